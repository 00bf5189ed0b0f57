"""Artifact safety: an uploaded joblib file is unpickled only when this installation signed it.

A malicious pickle (its `__reduce__` creates a marker file) proves the refusals happen before any
unpickling: the marker never appears unless the test itself loads the payload on purpose.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from prospect_core import signing
from prospect_core.signing import ArtifactError, key_id, load_verified, sign_card, signing_key, verify

KEY = b"k" * 64
OTHER_KEY = b"o" * 64


class Payload:
    """Unpickling this creates `marker`: the stand-in for code an attacker would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def malicious_bytes(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


def card_for(artifact: bytes) -> dict:
    import hashlib

    return {"card_version": 1, "artifact": {"format": "joblib", "sha256": hashlib.sha256(artifact).hexdigest()},
            "target": {"column": "target_had_submit_form_next1h"}, "metrics": {"roc_auc": 0.8}}


def test_the_payload_is_live_when_loaded_without_checks(tmp_path):
    """Control: joblib.load of the payload does run its code, so its absence below means something."""
    import io

    import joblib

    marker = tmp_path / "pwned"
    joblib.load(io.BytesIO(malicious_bytes(marker)))
    assert marker.exists()


def test_a_signed_pair_verifies_and_loads(tmp_path):
    import io

    import joblib
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    buffer = io.BytesIO()
    joblib.dump(Pipeline([("classifier", DummyClassifier().fit([[0], [1]], [0, 1]))]), buffer)
    artifact = buffer.getvalue()
    card = sign_card(card_for(artifact), artifact, KEY)
    assert card["signature"]["algorithm"] == "HMAC-SHA256" and card["signature"]["key_id"] == key_id(KEY)
    pipeline, loaded_card = load_verified(artifact, json.dumps(card, indent=2).encode(), KEY)
    assert loaded_card == card
    assert pipeline.predict_proba([[1]]).shape == (1, 2)


def _unsigned(artifact: bytes) -> bytes:
    return json.dumps(card_for(artifact)).encode()


def _other_key(artifact: bytes) -> bytes:
    return json.dumps(sign_card(card_for(artifact), artifact, OTHER_KEY)).encode()


def _artifact_swapped(artifact: bytes) -> bytes:
    """A card signed for a harmless artifact, uploaded with the malicious one."""
    harmless = b"harmless artifact bytes"
    return json.dumps(sign_card(card_for(harmless), harmless, KEY)).encode()


def _card_edited(artifact: bytes) -> bytes:
    card = sign_card(card_for(artifact), artifact, KEY)
    card["metrics"]["roc_auc"] = 0.99
    return json.dumps(card).encode()


def _signature_forged(artifact: bytes) -> bytes:
    card = sign_card(card_for(artifact), artifact, KEY)
    card["signature"]["value"] = "0" * 64
    return json.dumps(card).encode()


REFUSALS = [
    ("unsigned", _unsigned, r"has no signature.*never loaded here"),
    ("signed with another key", _other_key, r"signed by another installation"),
    ("artifact swapped", _artifact_swapped, r"signature does not match: the joblib file changed"),
    ("card edited", _card_edited, r"signature does not match: the model card changed"),
    ("signature forged", _signature_forged, r"signature does not match"),
    ("not json", lambda artifact: b"\x80\x04 not json", r"model card is not JSON"),
    ("json list", lambda artifact: b"[1, 2]", r"not a JSON object"),
    ("wrong algorithm", lambda artifact: json.dumps({"signature": {"algorithm": "none", "value": ""}}).encode(),
     r"uses 'none'; expected HMAC-SHA256"),
]


@pytest.mark.parametrize("case, make_card, message", REFUSALS, ids=[row[0] for row in REFUSALS])
def test_a_malicious_pickle_is_refused_before_it_is_unpickled(tmp_path, case, make_card, message):
    marker = tmp_path / "pwned"
    artifact = malicious_bytes(marker)
    with pytest.raises(ArtifactError, match=message):
        load_verified(artifact, make_card(artifact), KEY)
    assert not marker.exists(), "the pickle was loaded"


def test_only_the_signature_field_is_left_out_of_what_is_signed():
    artifact = b"bytes"
    card = sign_card(card_for(artifact), artifact, KEY)
    resigned = sign_card(card, artifact, KEY)  # signing a signed card replaces its signature
    assert resigned == card
    assert verify(artifact, json.dumps(card), KEY) == card


def test_the_key_file_is_created_once_with_mode_0600(tmp_path, monkeypatch):
    path = tmp_path / "config" / "prospect-studio" / "signing.key"
    monkeypatch.setenv("PROSPECT_SIGNING_KEY_FILE", str(path))
    key = signing_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and signing_key() == key  # the same key on every later use
    assert signing_key("from secrets") == b"from secrets"  # st.secrets["artifact_signing_key"] wins
    assert [p.name for p in path.parent.iterdir()] == ["signing.key"]  # no temp file left


def test_the_default_key_file_is_outside_the_repository(monkeypatch):
    monkeypatch.delenv("PROSPECT_SIGNING_KEY_FILE")
    path = signing.default_key_file()
    assert path == Path.home() / ".config" / "prospect-studio" / "signing.key"
    assert Path(__file__).resolve().parent.parent not in path.parents


def test_an_unwritable_key_location_is_one_clear_message(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(signing.tempfile, "mkstemp", refuse)
    with pytest.raises(signing.UserError, match=r"cannot read or create the model signing key .*PROSPECT_SIGNING_KEY_FILE"):
        signing_key(key_file=tmp_path / "signing.key")


def test_the_cli_writes_a_signed_card_this_installation_accepts(tmp_path):
    from prospect_core.demo_data import write_demo_db

    db = tmp_path / "demo.duckdb"
    write_demo_db(db, n_users=300, seed=5)
    out = tmp_path / "model.joblib"
    result = subprocess.run(
        [sys.executable, "-m", "prospect_core", "train", "--source", f"duckdb:{db}", "--out", str(out),
         "--n-estimators", "20"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parent.parent, env=os.environ,
    )
    assert result.returncode == 0, result.stderr
    card_path = out.with_name(out.name + ".card.json")
    card = verify(out.read_bytes(), card_path.read_bytes(), signing_key())
    assert card["signature"]["key_id"] == key_id(signing_key())
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers
