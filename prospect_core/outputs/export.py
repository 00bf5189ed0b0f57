"""The one way a trained model leaves the studio, and the one way it comes back.

`export_run` serialises a run's pipeline, writes its model card (with the Snowflake SQL that builds
its training set and the Signals parity report) and signs the card with this installation's key, and
writes the Snowplow Signals definitions of the run's inputs (`signals.signals_document`); the app
offers the result for download and the CLI writes it to files. `load_model` is the way back: nothing is unpickled unless the
card carries this installation's signature over both files, and then only the classes a studio
pipeline is made of (`artifact.load_artifact_bytes`), so a signed pickle asking for anything else is
refused by name without running it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from prospect_core.outputs.artifact import (
    EVALUATION_COLUMNS,
    ArtifactError,
    Owner,
    artifact_bytes,
    model_card,
    model_card_markdown,
    sha256_hex,
)
from prospect_core.infra.errors import UserError, shown
from prospect_core.modelling.model import TrainingRun
from prospect_core.outputs.signals import MATERIAL_SHARE, parity_report, signals_document
from prospect_core.events.build import prospect_events
from prospect_core.events.warehouse import Warehouse
from prospect_core.outputs.replay import parity_sample
from prospect_core.outputs.service_bundle import CARD_SUFFIX, DEFINITIONS_SUFFIX
from prospect_core.outputs.signing import load_verified, sign_card
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import render_training_sql

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class ExportBundle:
    """A run's joblib artifact and its signed model card, as bytes ready to download or write."""

    artifact: bytes
    sha256: str
    card: dict[str, Any]
    card_json: bytes
    card_markdown: str
    signals_json: bytes  # the Signals definitions (default names), with the parity report
    parity: list[dict[str, Any]]
    evaluation: bytes  # the run's test ids, labels and scores as Parquet: what Evaluate draws, its sha256 signed

    @property
    def artifact_name(self) -> str:
        return f"{self._stem}.joblib"

    @property
    def card_name(self) -> str:
        return self._stem + CARD_SUFFIX

    @property
    def signals_name(self) -> str:
        return self._stem + DEFINITIONS_SUFFIX

    @property
    def _stem(self) -> str:
        return f"prospect_model_{self.sha256[:8]}"


def export_run(run: TrainingRun, key: bytes, *, source: str, training_frame: pd.DataFrame | None = None,
               events: pd.DataFrame | None = None, recommended_threshold: dict[str, Any] | None = None, run_owner: Owner | None = None,
               **signals_options: Any) -> ExportBundle:
    """Serialise `run`'s pipeline, sign its model card with `key` (see `signing.signing_key`) and write
    its Signals definitions (`signals_options`: group_name, service_name, version, owner).

    The card signs the source string the run was built from and the sha256 of its evaluation Parquet,
    so a run restored from a store that anyone may write to takes both from the card, never from the
    store's tags or a file swapped beside it.

    The parity report replays Signals over `events` (the raw events of the set's prospects,
    `events.build.prospect_events` of `replay.parity_sample`) on `training_frame` (the run's training
    set) when given, else on the run's test rows, which is what a run keeps; without `events` it
    says how each input is served but measures nothing. `recommended_threshold`
    (evaluation.threshold_section: the one threshold, chosen on Evaluate) goes into the card, signed with it, and so does
    `run_owner`, the signed-in user the run belongs to (the run store checks it)."""
    data = artifact_bytes(run.pipeline)
    digest = sha256_hex(data)
    sql = render_training_sql(run.spec, "snowflake", inline=True).text
    measured_on = training_frame if training_frame is not None else run.X_test
    parity = parity_report(measured_on, run.spec, events)
    card = model_card(run, sql_snowflake=sql, artifact_sha256=digest)
    if events is None:  # nothing replayed, nothing sampled (a run's test rows hold no prospect ids)
        card["parity"] = parity_section(parity, rows=0, measured_on="nothing: the events were not at hand")
    else:
        sample = parity_sample(measured_on)
        card["parity"] = parity_section(
            parity, rows=len(sample.rows),
            measured_on=f"{'training set' if training_frame is not None else 'test rows'}: {sample.description}")
    if recommended_threshold is not None:
        card["recommended_threshold"] = recommended_threshold
    if run_owner is not None:
        card["owner"] = run_owner.card_section()
    evaluation = evaluation_parquet(run)
    card["source"] = source
    card["evaluation"] = {"format": "parquet", "columns": list(EVALUATION_COLUMNS), "sha256": sha256_hex(evaluation)}
    card = sign_card(card, data, key)
    return ExportBundle(artifact=data, sha256=digest, card=card,
                        card_json=(json.dumps(card, indent=2) + "\n").encode("utf-8"),
                        card_markdown=model_card_markdown(card),
                        signals_json=signals_json(run.spec, parity, **signals_options), parity=parity,
                        evaluation=evaluation)


def parity_events(warehouse: Warehouse, spec: TrainingSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The raw events of the prospects the parity report of `frame` replays (`replay.parity_sample`)."""
    prospects = pd.unique(parity_sample(frame).rows["domain_userid"].astype(object)).tolist()
    return prospect_events(warehouse, spec, prospects)


def evaluation_parquet(run: TrainingRun) -> bytes:
    """The run's test ids, labels and scores (`EVALUATION_COLUMNS`, in that order) as Parquet bytes."""
    frame = run.test_ids  # a new frame of its own, positions 0..n-1
    frame["y_true"] = run.y_test.astype("int8")
    frame["y_score"] = run.y_score.astype("float64")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()


def parity_section(parity: list[dict[str, Any]], *, rows: int, measured_on: str) -> dict[str, Any]:
    """The card's parity section: one row per model input, and what was measured on which rows."""
    return {
        "material_share": MATERIAL_SHARE,
        "measured_on": measured_on,
        "rows": rows,
        "inputs": parity,
        "material": [row["input"] for row in parity if row["material"]],
    }


def signals_json(spec: TrainingSpec, parity: list[dict[str, Any]] | None = None, **options: Any) -> bytes:
    """The Signals definitions file (`signals.signals_document`) of `spec`, with `parity` when given;
    `SpecError` names a bad group or service name, version or owner."""
    document = signals_document(spec, **options)
    if parity is not None:
        document["parity"] = parity
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class LoadedModel:
    """A model exported earlier, loaded again and verified: its pipeline, card and spec."""

    name: str
    pipeline: Pipeline
    card: dict[str, Any]
    spec: TrainingSpec

    @property
    def label(self) -> str:
        metrics = self.card.get("metrics") or {}
        auc = f" · AUC {metrics['roc_auc']:.3f}" if isinstance(metrics.get("roc_auc"), (int, float)) else ""
        return f"{self.name} · {self.spec.target_column}{auc}"


def load_model(artifact: bytes, card_json: bytes | str, key: bytes, *, name: str = "model") -> LoadedModel:
    """Verify a joblib file and its model card against `key`, then load it; ArtifactError when refused."""
    pipeline, card = load_verified(artifact, card_json, key)
    try:
        spec = TrainingSpec.from_dict({k: tuple(v) if isinstance(v, list) else v for k, v in card["spec"].items()})
    except (KeyError, TypeError, AttributeError, UserError) as error:
        raise ArtifactError(f"the model card's spec cannot be read: {shown(str(error), limit=200, quote=False)}") from None
    return LoadedModel(name=name, pipeline=pipeline, card=card, spec=spec)
