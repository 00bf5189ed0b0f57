"""Command line: `python -m prospect_core COMMAND [spec flags]`.

Every subcommand that builds on a spec takes the same spec flags, named after the `TrainingSpec`
fields, and `--spec FILE`, a JSON file of `TrainingSpec` fields (custom `attributes` included);
explicit flags override the file. `spec --out FILE` writes the current spec as such a file, and
`signals --out FILE` the Snowplow Signals definitions of its features (`prospect_core.outputs.signals`). A user error
prints one line (`error: ...`) and exits with status 2; it never shows a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import pandas as pd

from prospect_core.infra import safe_io
from prospect_core.events.build import TrainingSet, build_training_set
from prospect_core.trainingset.dataset import normalize_training_set
from prospect_core.events.demo_data import DEFAULT_DEMO_USERS, MAX_DEMO_USERS, write_demo_db
from prospect_core.infra.errors import DatasetError, SpecError, UserError, shown
from prospect_core.infra.limits import DEFAULT_MAX_TRAINING_ROWS, TRAINING_ROWS, max_training_rows
from prospect_core.modelling.families import CALIBRATIONS, FAMILIES
from prospect_core.modelling.model import N_FOLDS, SPLITS, ModelParams, TrainingRun, check_training_set, train_model
from prospect_core.infra.paths import demo_db_path
from prospect_core.outputs.service_bundle import (BundleError, card_beside, definitions_beside, definitions_path,
                                          model_card_path, write_service_folder)
from prospect_core.outputs import signals_defaults
from prospect_core.outputs import anchors
from prospect_core.outputs.replay import parity_warning
from prospect_core.outputs.signing import signing_key
from prospect_core.events.sources import DEFAULT_SOURCE, SOURCE_KINDS, open_source
from prospect_core.trainingset.spec import MAX_SPEC_BYTES, TrainingSpec, parse_date, spec_from_json
from prospect_core.trainingset.spec_fields import SPEC_FIELDS, SpecField
from prospect_core.runstore import NotSavedError, check_workspace_id, resolve_store, warm_up
from prospect_core.trainingset.training_sql import DIALECTS, FORMULATIONS, render_training_sql
from prospect_core.events.warehouse import Warehouse, null_timestamp_notices, target_event_notice

if TYPE_CHECKING:
    from prospect_core.outputs.export import ExportBundle

# Commands that fit or export import the export and Signals modules (sklearn, the Signals SDK) where
# they run, so `--help`, `sql`, `spec` and `dataset` start without them.

_SOURCES = " | ".join(SOURCE_KINDS)


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _csv_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number >= `low` (and <= `high`), refused by argparse with its usage line otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(text)}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high:,}, got {value:,}")
        return value

    return parse


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """A flag for each field of the spec form's table, named after the field (`--long-window-days`)."""
    group = parser.add_argument_group("training spec (defaults reproduce the tutorial)")
    defaults = TrainingSpec()
    group.add_argument("--spec", metavar="FILE.json",
                       help="a JSON file of TrainingSpec fields (see the spec command); flags override it")
    for field in SPEC_FIELDS:
        default = getattr(defaults, field.name)
        if field.kind == "switch":
            group.add_argument(field.flag, action="store_true", default=None, help=_flag_help(field, "off"))
        elif field.kind == "date":
            group.add_argument(field.flag, metavar="YYYY-MM-DD", help=_flag_help(field, "today"))
        elif field.kind == "names":
            group.add_argument(field.flag, metavar="A,B", help=_flag_help(field, ",".join(default) or "''"))
        elif field.bounds is not None:
            unit = " minutes" if field.kind == "window" else ""  # the app also shows it in hours; the CLI does not
            limits = f"from {field.lowest} to {field.bounds.high:,}{unit}"
            group.add_argument(field.flag, metavar="N", help=_flag_help(field, f"{default or 0}{unit}", limits))
        elif field.kind == "choice":
            group.add_argument(field.flag, metavar="|".join(field.choices), help=_flag_help(field, default))
        else:
            group.add_argument(field.flag, help=_flag_help(field, default))


def _flag_help(field: SpecField, default: object, limits: str = "") -> str:
    """The app's label and help, the default and the bounds (argparse formats help with %, hence %%)."""
    sentences = [field.widget_label, field.help, f"Default {default}" + (f"; {limits}" if limits else "")]
    return ". ".join(text.rstrip(".") for text in sentences if text).replace("%", "%%")


def read_spec_file(path_text: str) -> TrainingSpec:
    """The spec in a JSON file of `TrainingSpec` fields, with a message naming what is wrong."""
    path = Path(path_text)
    if not path.is_file():
        raise SpecError(f"--spec {path} is not a file; write one with `python -m prospect_core spec --out FILE`")
    with path.open("rb") as file:  # one byte past the limit is enough to refuse it
        return spec_from_json(file.read(MAX_SPEC_BYTES + 1), what=f"--spec {path.name}")


def spec_from_args(args: argparse.Namespace) -> TrainingSpec:
    """Build the spec from `--spec` and parsed flags; unset flags keep the file's values or the defaults."""
    values = {field.name: _flag_value(field, getattr(args, field.name)) for field in SPEC_FIELDS
              if getattr(args, field.name) is not None}
    if getattr(args, "spec", None):
        return read_spec_file(args.spec).replace(**values)
    return TrainingSpec(**values)


def _flag_value(field: SpecField, text: str | bool) -> object:
    if field.kind in ("switch", "text", "event", "choice"):
        return text
    if field.kind == "date":
        return parse_date(text, field_name=field.flag)
    if field.kind == "names":
        return _csv_list(text)
    try:
        number = int(text)
    except ValueError:
        raise SpecError(f"{field.flag} must be a whole number, got {text!r}") from None
    return number or None if field.zero_is_none else number  # 0 keeps all, as in the app


def stage(message: str) -> Callable[[], None]:
    """Print a stage line now and return a callable that prints its elapsed time."""
    started = time.perf_counter()
    print(f"• {message} ...", file=sys.stderr, flush=True)

    def done() -> None:
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    return done


# ----- subcommands -------------------------------------------------------------------------------


def run_demo_data(args: argparse.Namespace) -> None:
    path = Path(args.db) if args.db else demo_db_path()
    safe_io.output_path(path, what="the demo database", follow_symlinks=args.follow_symlinks)  # say so before any work
    done = stage(f"writing demo events to {path}")
    events = write_demo_db(path, n_users=args.users or DEFAULT_DEMO_USERS, seed=args.seed,
                           follow_symlinks=args.follow_symlinks)
    done()
    print(f"{events} events written to {path}")


def run_sql(args: argparse.Namespace) -> None:
    options = {"formulation": args.formulation} if args.formulation else {}
    print(render_training_sql(spec_from_args(args), args.dialect, inline=True, **options).text, end="")


def run_dataset(args: argparse.Namespace) -> None:
    spec = spec_from_args(args)
    out = safe_io.output_path(args.out, what="the training set", follow_symlinks=args.follow_symlinks)
    started = time.perf_counter()
    warehouse, spec = open_warehouse(args, spec)
    # A DuckDB file's events without a timestamp, and a target event that is not there (Submit_Form);
    # the build says what an events file lacked.
    for notice in (*null_timestamp_notices(warehouse, spec), target_event_notice(warehouse, spec)):
        if notice:
            print_notice(notice)
    built = build_from_warehouse(args, warehouse, spec)
    if built.frame.empty:
        raise DatasetError(
            f"the training set is empty, so nothing was written: no prospect in {warehouse.label} was first seen "
            "in the cohort window on these apps. Widen the cohort window, check --app-ids, or move --as-of"
        )
    safe_io.write_parquet(out, built.frame, what="the training set")
    summary = built.summary
    print(
        f"{summary.rows} rows ({summary.users} users), {summary.positives} positive "
        f"({summary.positive_rate:.2%} {spec.target_column}) written to {out} "
        f"in {time.perf_counter() - started:.1f} s"
    )


def open_warehouse(args: argparse.Namespace, spec: TrainingSpec) -> tuple[Warehouse, TrainingSpec]:
    """The warehouse behind --source, and the spec reading the events table its settings name, if any."""
    warehouse = open_source(args.source, events_table=spec.events_table)
    if args.events_table is None and warehouse.events_table:
        spec = spec.replace(events_table=warehouse.events_table)  # e.g. ENV_ATOMIC_TABLE for Snowflake
    return warehouse, spec


def build_from_warehouse(args: argparse.Namespace, warehouse: Warehouse, spec: TrainingSpec) -> TrainingSet:
    """The one build (preflight, row limit, query, cap, normalize), each step a line on stderr."""
    limit = args.max_training_rows or max_training_rows()
    done = stage(f"building the training set from {warehouse.label}")
    built = build_training_set(warehouse, spec, max_rows=limit, formulation=args.formulation, notice=print_notice,
                               progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    done()
    return built


def print_notice(notice: str) -> None:
    print(f"notice: {notice}", file=sys.stderr)


def add_max_training_rows_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-training-rows", type=_whole_number(1), metavar="N",
        help=f"refuse a cohort estimated above N rows before querying it (default: {TRAINING_ROWS.env}, "
        f"else {DEFAULT_MAX_TRAINING_ROWS:,}, the app's limit)",
    )


# ----- train (model core, issue 3) -------------------------------------------------------------------


def add_train_command(commands: argparse._SubParsersAction) -> None:
    defaults = ModelParams()
    train = commands.add_parser("train", help="train the model pipeline; write the joblib artifact and model card")
    data = train.add_mutually_exclusive_group()
    data.add_argument("--source", default=DEFAULT_SOURCE, help=f"{_SOURCES} (default {DEFAULT_SOURCE})")
    data.add_argument("--dataset", metavar="FILE.parquet", help="a training set written by the dataset command")
    train.add_argument("--out", required=True, help="joblib file to write (the fitted sklearn Pipeline)")
    train.add_argument("--card", help="model card JSON to write, with a .md rendering beside it (default: OUT.card.json)")
    add_follow_symlinks_argument(train)
    train.add_argument("--split", choices=SPLITS, default="random", help="default random (the tutorial's)")
    train.add_argument("--formulation", choices=FORMULATIONS)
    add_max_training_rows_argument(train)
    for name, kind in (("n_estimators", int), ("max_depth", int), ("learning_rate", float),
                       ("subsample", float), ("scale_pos_weight", float), ("seed", int)):
        train.add_argument(_flag(name), type=kind, default=getattr(defaults, name), metavar="N",
                           help=f"default {getattr(defaults, name)}")
    train.add_argument("--model", choices=list(FAMILIES), default=defaults.family,
                       help=f"the model family (default {defaults.family}); a logistic_regression ignores the tree flags")
    train.add_argument("--train-negatives-per-positive", type=_whole_number(1, 10_000), metavar="N",
                       help="fit on every positive and a seeded sample of at most N negatives per positive of the "
                       "training side (the test side is never sampled); scores are corrected back to the "
                       "population's rate. Default: every negative")
    train.add_argument("--early-stopping-rounds", type=_whole_number(1, 1000), metavar="N",
                       help="stop adding trees (xgboost) once N rounds bring no gain on a by-prospect validation "
                       "slice of the training side; --n-estimators is then the maximum. Default: off")
    train.add_argument("--calibration", choices=list(CALIBRATIONS),
                       help=f"calibrate the scores with scikit-learn's CalibratedClassifierCV over {N_FOLDS} folds of "
                       "whole training prospects (each fold calibrated on prospects its classifier did not see). "
                       "Default: off (scores are prior-corrected)")
    add_signals_name_arguments(train)
    track = train.add_mutually_exclusive_group()
    track.add_argument("--tracking-uri", help="MLflow store to log the run to (default: $MLFLOW_TRACKING_URI, else "
                       "sqlite:///data/mlruns.db with artifacts in data/mlartifacts)")
    track.add_argument("--no-track", action="store_true", help="do not log the run to MLflow")
    train.add_argument("--workspace", default="cli", help="workspace id the run is logged under (default cli)")
    add_spec_arguments(train)
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> None:
    from prospect_core.outputs.export import export_run, parity_events, signals_json

    params = ModelParams(
        **{name: getattr(args, name) for name in (
            "n_estimators", "max_depth", "learning_rate", "subsample", "scale_pos_weight", "seed",
            "train_negatives_per_positive", "early_stopping_rounds", "calibration")},
        family=args.model,
    )
    spec = spec_from_args(args)
    if not args.no_track:
        check_workspace_id(args.workspace)  # before the minutes of building and fitting
    # Every output path and the signing key are checked before the minutes of building and fitting.
    follow = args.follow_symlinks
    out = safe_io.output_path(args.out, what="the model artifact", follow_symlinks=follow)
    card_path = safe_io.output_path(args.card or model_card_path(Path(args.out)), what="the model card",
                                    follow_symlinks=follow)
    markdown_path = safe_io.output_path(card_path.with_suffix(".md"), what="the model card", follow_symlinks=follow)
    signals_path = safe_io.output_path(definitions_path(Path(args.out)), what="the Signals definitions",
                                       follow_symlinks=follow)
    signals_json(spec, **signals_options(args))  # a bad group name or owner is said before the build
    key = signing_key()
    if not args.no_track:  # mlflow's imports run beside the build and fit instead of after them
        warm_up(resolve_store(tracking_uri=args.tracking_uri))
    started = time.perf_counter()
    events = None  # a dataset file alone holds no raw events to replay Signals over
    if args.dataset:
        path = Path(args.dataset)
        if not path.is_file():
            raise DatasetError(f"--dataset {path} is not a file; write one with `python -m prospect_core dataset --out FILE`")
        done = stage(f"reading the training set {path}")
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise DatasetError(f"--dataset {path.name} is not a Parquet training set: {str(error).splitlines()[0][:200]}") from None
        check_training_set(frame, spec)  # names the file's problem before normalizing its dtypes
        try:
            frame = normalize_training_set(frame, spec)
        except (TypeError, ValueError) as error:
            raise DatasetError(f"--dataset {path.name} has a column of the wrong type: {str(error).splitlines()[0][:200]}") from None
        done()
    else:
        warehouse, spec = open_warehouse(args, spec)
        frame = build_from_warehouse(args, warehouse, spec).frame
        events = parity_events(warehouse, spec, frame)

    labels = {"check": "checking the training set", "split": f"splitting ({args.split})",
              "fit": f"fitting {FAMILIES[params.family].label}"
                     + (f" ({params.n_estimators} trees)" if params.family == "xgboost" else ""), "score": "scoring the test rows",
              "evaluate": "evaluating"}
    finish: list[Callable[[], None]] = []

    def progress(step: str) -> None:
        if finish:
            finish.pop()()
        finish.append(stage(labels.get(step, step)))

    run = train_model(frame, spec, params, split=args.split, progress=progress)
    finish.pop()()

    done = stage("writing the artifact and model card")
    # Signed with this installation's key, so the studio's "Load a model" accepts the pair (and only it).
    # The card records the source it was built from; a run trained from a dataset file names the file.
    source = f"dataset {Path(args.dataset).name}" if args.dataset else args.source
    export = export_run(run, key, source=source, training_frame=frame, events=events, **signals_options(args))
    safe_io.write_bytes(out, export.artifact, what="the model artifact")
    safe_io.write_bytes(card_path, export.card_json, what="the model card")
    safe_io.write_bytes(markdown_path, export.card_markdown.encode(), what="the model card")
    safe_io.write_bytes(signals_path, export.signals_json, what="the Signals definitions")
    done()
    for row in export.parity:
        if row["material"]:
            print(f"warning: {parity_warning(row)} (see the card's parity section)", file=sys.stderr)

    metrics = run.evaluation
    print(
        f"{run.n_train:,} train / {run.n_test:,} test rows ({args.split} split), test base rate {metrics.base_rate:.2%}\n"
        f"ROC AUC {metrics.roc_auc:.3f}  PR AUC {metrics.pr_auc:.3f}  log loss {metrics.log_loss:.4f}  "
        f"Brier {metrics.brier:.4f}  F1@0.5 {metrics.f1:.3f}  best F1 {metrics.best_f1:.3f} at {metrics.best_f1_threshold:.2f}\n"
        f"model written to {out} (sha256 {export.sha256[:12]}...), card to {card_path}, Signals definitions to "
        f"{signals_path} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if not args.no_track:
        log_to_tracking(args, run, export)


def log_to_tracking(args: argparse.Namespace, run: TrainingRun, export: ExportBundle) -> None:
    """Log the run to the MLflow store; the files are written already, so a store fault is a warning."""

    store = resolve_store(tracking_uri=args.tracking_uri)
    try:
        run_id = store.log_run(run, artifact=export.artifact, card_json=export.card_json,
                               card_markdown=export.card_markdown, evaluation=export.evaluation,
                               workspace=args.workspace, definitions=export.signals_json)
    except NotSavedError as error:
        print(f"warning: run {error} (the model files above are written; rerun to log it)", file=sys.stderr)
        return
    print(f"run {run_id} logged to {store.label}")


def run_spec(args: argparse.Namespace) -> None:
    out = safe_io.output_path(args.out, what="the spec", follow_symlinks=args.follow_symlinks)
    spec = spec_from_args(args)
    safe_io.write_bytes(out, (json.dumps(spec.to_dict(), indent=2) + "\n").encode(), what="the spec",
                        follow_symlinks=args.follow_symlinks)
    print(f"spec written to {out} ({len(spec.attributes)} custom attribute(s))")


def run_signals(args: argparse.Namespace) -> None:
    from prospect_core.outputs.export import parity_events
    from prospect_core.outputs.signals import parity_report, signals_document

    out = safe_io.output_path(args.out, what="the Signals definitions", follow_symlinks=args.follow_symlinks)
    spec = spec_from_args(args)
    document = signals_document(spec, **signals_options(args))
    if args.dataset:
        path = Path(args.dataset)
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as error:
            raise DatasetError(f"--dataset {path.name} is not a Parquet training set: {str(error).splitlines()[0][:200]}") from None
        check_training_set(frame, spec)
        events = None
        if args.source is not None:  # the raw events to replay Signals over, from the set's source
            warehouse, reading = open_warehouse(args, spec)
            events = parity_events(warehouse, reading, frame)
        document["parity"] = parity_report(frame, spec, events)
        for row in document["parity"]:
            if row["material"]:
                print(f"warning: {parity_warning(row)}", file=sys.stderr)
    safe_io.write_bytes(out, (json.dumps(document, indent=2) + "\n").encode(), what="the Signals definitions",
                        follow_symlinks=args.follow_symlinks)
    group = document["attribute_group"]
    print(f"Signals attribute group {group['name']} v{group['version']} ({len(group['attributes'])} attributes) "
          f"and service {document['service']['name']} written to {out}")


def read_training_set(path_text: str, spec: TrainingSpec) -> pd.DataFrame:
    """A training set written by the dataset command, checked against `spec`."""
    path = Path(path_text)
    if not path.is_file():
        raise DatasetError(f"--dataset {path} is not a file; write one with `python -m prospect_core dataset --out FILE`")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise DatasetError(f"--dataset {path.name} is not a Parquet training set: {str(error).splitlines()[0][:200]}") from None
    check_training_set(frame, spec)
    return frame


def run_signals_dataset(args: argparse.Namespace) -> None:
    """The training set's prediction points as a Signals custom-anchors table (Parquet and the Snowflake SQL
    that loads it), then Snowplow's dataset builder over them when Signals credentials are set."""
    from prospect_core.outputs.signals import SignalsError, signals_client, signals_definitions

    spec = spec_from_args(args)
    options = signals_options(args)
    table = anchors.warehouse_table(args.table)  # names and owner are checked before the build
    signals_definitions(spec, **options)
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"--out {folder} is a file; expected a folder for the anchors and the dataset bundle")
    follow = args.follow_symlinks
    if args.dataset:
        frame = read_training_set(args.dataset, spec)
    else:
        warehouse, spec = open_warehouse(args, spec)
        frame = build_from_warehouse(args, warehouse, spec).frame
        check_training_set(frame, spec)
    written = {anchors.ANCHORS_FILE: anchors.anchors_parquet(frame, spec),
               anchors.ANCHORS_SQL_FILE: anchors.anchors_sql(table).encode()}
    for name, data in written.items():
        safe_io.write_bytes(folder / name, data, what=f"the anchors' {name}", follow_symlinks=follow)
    print(f"{len(frame):,} anchors ({int(frame[spec.target_column].sum()):,} positive) written to "
          f"{folder / anchors.ANCHORS_FILE}, with {anchors.ANCHORS_SQL_FILE} to load them into {args.table}")
    try:
        client = signals_client()
    except SignalsError as error:
        print_notice(f"{error}, to build the dataset with Snowplow's dataset builder")
        return
    bundle = anchors.build_dataset_bundle(client, spec, table, **options)
    for name, data in bundle.items():
        safe_io.write_bytes(folder / name, data, what=f"the dataset bundle's {name}", follow_symlinks=follow)
    print(f"Snowplow Signals dataset bundle written to {folder}: {', '.join(bundle)} (run {anchors.ANCHORS_SQL_FILE} "
          "first, then the files in the order its README gives)")


def add_signals_name_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group-name", default=signals_defaults.GROUP_NAME,
                        help=f"Signals attribute group name (default {signals_defaults.GROUP_NAME})")
    parser.add_argument("--service-name", default=signals_defaults.SERVICE_NAME,
                        help=f"Signals service name (default {signals_defaults.SERVICE_NAME})")
    parser.add_argument("--version", type=_whole_number(1), default=signals_defaults.VERSION,
                        help=f"attribute group version (default {signals_defaults.VERSION})")
    parser.add_argument("--owner", default=signals_defaults.OWNER, help=f"owner email (default {signals_defaults.OWNER})")


def signals_options(args: argparse.Namespace) -> dict[str, object]:
    return {"group_name": args.group_name, "service_name": args.service_name, "version": args.version,
            "owner": args.owner}


def add_follow_symlinks_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow-symlinks", action="store_true",
        help="when an output path is a symbolic link, replace the file it points to (default: refuse)",
    )


# ----- service (scoring-service bundle, issue 14) ------------------------------------------------------


def add_service_command(commands: argparse._SubParsersAction) -> None:
    service = commands.add_parser("service", help="write a scoring-service folder (FastAPI) for an exported model")
    service.add_argument("--model", required=True, help="the exported joblib file")
    service.add_argument("--out", required=True, help="folder to write the service into (created if missing)")
    service.add_argument("--card", help="the model card (default: the .card.json next to the model)")
    service.add_argument("--definitions", help="Signals definitions JSON to include (default: the .signals.json "
                         "that train writes next to the model, when there is one)")
    service.set_defaults(handler=run_service)


def run_service(args: argparse.Namespace) -> None:
    def read(path: Path, flag: str) -> bytes:
        if not path.is_file():
            raise BundleError(f"{flag} {path} is not a file")
        return path.read_bytes()

    model = Path(args.model)
    artifact = read(model, "--model")
    card = read(Path(args.card), "--card") if args.card else read(card_beside(model), "--card")
    beside = definitions_beside(model)
    definitions = (read(Path(args.definitions), "--definitions") if args.definitions
                   else beside.read_bytes() if beside else None)
    written = write_service_folder(args.out, artifact, card, definitions, key=signing_key())  # as the app's Load a model
    print(f"scoring service written to {args.out}: {', '.join(path.name for path in written)}\n"
          f"run it with: cd {args.out} && pip install -r requirements.txt && uvicorn service:app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prospect_core", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo-data", help="write the embedded demo events DuckDB file")
    demo.add_argument("--db", help="path of the DuckDB file (default: data/demo.duckdb)")
    demo.add_argument("--users", type=_whole_number(1, MAX_DEMO_USERS),
                      help=f"number of simulated prospects (at most {MAX_DEMO_USERS:,})")
    demo.add_argument("--seed", type=_whole_number(0), default=0)
    add_follow_symlinks_argument(demo)
    demo.set_defaults(handler=run_demo_data)

    sql = commands.add_parser("sql", help="print the training-set SQL, ready to run")
    sql.add_argument("--dialect", choices=DIALECTS, default="snowflake")
    sql.add_argument("--formulation", choices=FORMULATIONS)
    add_spec_arguments(sql)
    sql.set_defaults(handler=run_sql)

    dataset = commands.add_parser("dataset", help="build the training set into a Parquet file")
    dataset.add_argument("--source", default=DEFAULT_SOURCE, help=f"{_SOURCES} (default {DEFAULT_SOURCE})")
    dataset.add_argument("--out", required=True, help="Parquet file to write")
    dataset.add_argument("--formulation", choices=FORMULATIONS)
    add_max_training_rows_argument(dataset)
    add_follow_symlinks_argument(dataset)
    add_spec_arguments(dataset)
    dataset.set_defaults(handler=run_dataset)
    add_train_command(commands)
    add_service_command(commands)

    spec = commands.add_parser("spec", help="write the spec (flags, --spec file) as a JSON file for --spec")
    spec.add_argument("--out", required=True, help="JSON file to write")
    add_follow_symlinks_argument(spec)
    add_spec_arguments(spec)
    spec.set_defaults(handler=run_spec)

    signals = commands.add_parser("signals", help="write Snowplow Signals definitions of the spec's features")
    signals.add_argument("--out", required=True, help="JSON file to write (attribute group, service, model inputs)")
    add_signals_name_arguments(signals)
    signals.add_argument("--source", help=f"with --dataset: where its events are ({_SOURCES}), so the parity report "
                         "replays Signals over them")
    signals.add_argument("--dataset", metavar="FILE.parquet",
                         help="a training set (dataset command): adds the parity report measured on it")
    add_follow_symlinks_argument(signals)
    add_spec_arguments(signals)
    signals.set_defaults(handler=run_signals)

    builder = commands.add_parser(
        "signals-dataset", help="the training set's prediction points as Signals custom anchors, and Snowplow's "
        "dataset builder over them (with SP_API_URL, SP_API_KEY, SP_API_KEY_ID and SP_ORG_ID set)")
    data = builder.add_mutually_exclusive_group()
    data.add_argument("--source", default=DEFAULT_SOURCE, help=f"{_SOURCES} (default {DEFAULT_SOURCE})")
    data.add_argument("--dataset", metavar="FILE.parquet", help="a training set written by the dataset command")
    builder.add_argument("--out", required=True, help="folder to write the anchors and the dataset bundle into")
    builder.add_argument("--table", default=anchors.DEFAULT_TABLE, metavar="[DATABASE.][SCHEMA.]TABLE",
                         help=f"the Snowflake table of anchors (default {anchors.DEFAULT_TABLE})")
    builder.add_argument("--formulation", choices=FORMULATIONS)
    add_max_training_rows_argument(builder)
    add_signals_name_arguments(builder)
    add_follow_symlinks_argument(builder)
    add_spec_arguments(builder)
    builder.set_defaults(handler=run_signals_dataset)
    return parser


@contextlib.contextmanager
def native_output_aside() -> Iterator[None]:
    """Python's stdout stays the command's output; file descriptor 1 goes to stderr, or nowhere when
    stderr is not a terminal.

    Native libraries write progress to descriptor 1 whatever it is: DuckDB draws its bar there once a
    query runs 2 s, and cannot be told otherwise on a connection whose settings are locked
    (events/warehouse.py). tqdm writes to stderr; off too when that is not a terminal.
    """
    sys.stdout.flush()
    results = os.dup(1)
    aside = os.dup(2) if sys.stderr.isatty() else os.open(os.devnull, os.O_WRONLY)
    os.dup2(aside, 1)
    os.close(aside)
    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")
    previous, sys.stdout = sys.stdout, open(results, "w", encoding=sys.stdout.encoding, errors=sys.stdout.errors,
                                            buffering=1 if sys.stdout.line_buffering else -1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(results, 1)
        sys.stdout.close()
        sys.stdout = previous


def run() -> int:
    """`python -m prospect_core`: `main` with stdout holding only what the command prints."""
    with native_output_aside():
        return main()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # an output path that is a directory, unwritable, or a full disk
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    return 0
