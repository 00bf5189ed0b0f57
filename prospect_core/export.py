"""The one way a trained model leaves the studio, and the one way it comes back.

`export_run` serialises a run's pipeline, writes its model card (with the Snowflake SQL that builds
its training set) and signs the card with this installation's key; the app offers the result for
download and the CLI writes it to files. `load_model` is the way back: nothing is unpickled unless the
card carries this installation's signature over both files, and then only the classes a studio
pipeline is made of (`artifact.load_artifact_bytes`), so a signed pickle asking for anything else is
refused by name without running it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sklearn.pipeline import Pipeline

from prospect_core.artifact import ArtifactError, artifact_bytes, model_card, model_card_markdown, sha256_hex
from prospect_core.errors import UserError, shown
from prospect_core.model import TrainingRun
from prospect_core.signing import load_verified, sign_card
from prospect_core.spec import TrainingSpec
from prospect_core.training_sql import render_training_sql


@dataclass(frozen=True)
class ExportBundle:
    """A run's joblib artifact and its signed model card, as bytes ready to download or write."""

    artifact: bytes
    sha256: str
    card: dict[str, Any]
    card_json: bytes
    card_markdown: str

    @property
    def artifact_name(self) -> str:
        return f"prospect_model_{self.sha256[:8]}.joblib"

    @property
    def card_name(self) -> str:
        return f"prospect_model_{self.sha256[:8]}.card.json"


def export_run(run: TrainingRun, key: bytes, *, recommended_threshold: dict[str, Any] | None = None) -> ExportBundle:
    """Serialise `run`'s pipeline and sign its model card with `key` (see `signing.signing_key`).

    `recommended_threshold` (evaluation.recommended_threshold_section) goes into the card, signed with it.
    """
    data = artifact_bytes(run.pipeline)
    digest = sha256_hex(data)
    sql = render_training_sql(run.spec, "snowflake", inline=True).text
    card = model_card(run, sql_snowflake=sql, artifact_sha256=digest)
    if recommended_threshold is not None:
        card["recommended_threshold"] = recommended_threshold
    card = sign_card(card, data, key)
    return ExportBundle(artifact=data, sha256=digest, card=card,
                        card_json=(json.dumps(card, indent=2) + "\n").encode("utf-8"),
                        card_markdown=model_card_markdown(card))


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
