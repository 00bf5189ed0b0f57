"""Command line: `python -m prospect_core COMMAND [spec flags]`.

Every subcommand takes the same spec flags, named after the `TrainingSpec` fields. A user error
prints one line (`error: ...`) and exits with status 2; it never shows a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from prospect_core.errors import SpecError, UserError
from prospect_core.spec import TrainingSpec, parse_date
from prospect_core.training_sql import DIALECTS, FORMULATIONS

SPEC_INTEGER_FLAGS = (
    "cohort_first_seen_from_days",
    "cohort_first_seen_to_days",
    "short_window_days",
    "long_window_days",
    "target_min_count",
    "target_window_minutes",
)


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _csv_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training spec (defaults reproduce the tutorial)")
    defaults = TrainingSpec()
    group.add_argument("--as-of", metavar="YYYY-MM-DD", help="build the set as if run on this date (default: today)")
    for name in SPEC_INTEGER_FLAGS:
        group.add_argument(_flag(name), metavar="N", help=f"default {getattr(defaults, name)}")
    group.add_argument("--target-event", help=f"default {defaults.target_event}")
    group.add_argument("--app-ids", metavar="A,B", help=f"default {','.join(defaults.app_ids)}")
    group.add_argument(
        "--excluded-events", metavar="A,B", help=f"default {','.join(defaults.excluded_events)}; '' for none"
    )
    group.add_argument("--events-table", help=f"default {defaults.events_table}")


def spec_from_args(args: argparse.Namespace) -> TrainingSpec:
    """Build the spec from parsed flags; unset flags keep the spec's defaults."""
    values: dict[str, object] = {}
    if args.as_of is not None:
        values["as_of"] = parse_date(args.as_of, field_name="--as-of")
    for name in SPEC_INTEGER_FLAGS:
        text = getattr(args, name)
        if text is not None:
            try:
                values[name] = int(text)
            except ValueError:
                raise SpecError(f"{_flag(name)} must be a whole number, got {text!r}") from None
    for name in ("target_event", "events_table"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    for name in ("app_ids", "excluded_events"):
        if getattr(args, name) is not None:
            values[name] = _csv_list(getattr(args, name))
    return TrainingSpec(**values)


def stage(message: str) -> Callable[[], None]:
    """Print a stage line now and return a callable that prints its elapsed time."""
    started = time.perf_counter()
    print(f"• {message} ...", file=sys.stderr, flush=True)

    def done() -> None:
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    return done


# ----- subcommands -------------------------------------------------------------------------------


def run_demo_data(args: argparse.Namespace) -> None:
    from prospect_core.demo_data import DEFAULT_DEMO_USERS, write_demo_db
    from prospect_core.sources import demo_db_path

    path = Path(args.db) if args.db else demo_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    done = stage(f"writing demo events to {path}")
    events = write_demo_db(path, n_users=args.users or DEFAULT_DEMO_USERS, seed=args.seed)
    done()
    print(f"{events} events written to {path}")


def run_sql(args: argparse.Namespace) -> None:
    from prospect_core.training_sql import render_training_sql

    options = {"formulation": args.formulation} if args.formulation else {}
    print(render_training_sql(spec_from_args(args), args.dialect, inline=True, **options).text, end="")


def run_dataset(args: argparse.Namespace) -> None:
    from prospect_core.dataset import build_training_set, summarize
    from prospect_core.sources import open_source

    spec = spec_from_args(args)
    started = time.perf_counter()
    warehouse = open_source(args.source, events_table=spec.events_table)
    if args.events_table is None and getattr(warehouse, "events_table", None):
        spec = spec.replace(events_table=warehouse.events_table)  # e.g. ENV_ATOMIC_TABLE for Snowflake
    for notice in getattr(warehouse, "notices", ()):
        print(f"notice: {notice}", file=sys.stderr)
    done = stage(f"building the training set from {warehouse.label}")
    frame = build_training_set(warehouse, spec, formulation=args.formulation)
    done()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    summary = summarize(frame, spec)
    print(
        f"{summary.rows} rows ({summary.users} users), {summary.positives} positive "
        f"({summary.positive_rate:.2%} {spec.target_column}) written to {out} "
        f"in {time.perf_counter() - started:.1f} s"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prospect_core", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo-data", help="write the embedded demo events DuckDB file")
    demo.add_argument("--db", help="path of the DuckDB file (default: data/demo.duckdb)")
    demo.add_argument("--users", type=int, help="number of simulated prospects")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=run_demo_data)

    sql = commands.add_parser("sql", help="print the training-set SQL, ready to run")
    sql.add_argument("--dialect", choices=DIALECTS, default="snowflake")
    sql.add_argument("--formulation", choices=FORMULATIONS)
    add_spec_arguments(sql)
    sql.set_defaults(handler=run_sql)

    dataset = commands.add_parser("dataset", help="build the training set into a Parquet file")
    dataset.add_argument("--source", default="demo", help="demo | duckdb:PATH | events:PATH | snowflake")
    dataset.add_argument("--out", required=True, help="Parquet file to write")
    dataset.add_argument("--formulation", choices=FORMULATIONS)
    add_spec_arguments(dataset)
    dataset.set_defaults(handler=run_dataset)
    return parser


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
    return 0
