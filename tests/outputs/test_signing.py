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

import numpy as np
import pytest
import xgboost
from joblib.numpy_pickle import NumpyArrayWrapper
from joblib.numpy_pickle_compat import NDArrayWrapper

from prospect_core.outputs import signing
from prospect_core.outputs.signing import ArtifactError, key_id, load_verified, sign_card, signing_key, verify

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


@pytest.fixture(scope="module")
def studio_pipeline():
    """A real studio pipeline (preprocessor + XGBClassifier), small and quick to fit."""
    from prospect_core.modelling.model import ModelParams, train_model
    from tests.modelling.test_model import SPEC, synthetic_training_set

    return train_model(synthetic_training_set(n_users=40), SPEC, ModelParams(n_estimators=5), split="random")


def test_a_signed_pair_verifies_and_loads(studio_pipeline):
    from prospect_core.outputs.artifact import artifact_bytes

    artifact = artifact_bytes(studio_pipeline.pipeline)
    card = sign_card(card_for(artifact), artifact, KEY)
    assert card["signature"]["algorithm"] == "HMAC-SHA256" and card["signature"]["key_id"] == key_id(KEY)
    pipeline, loaded_card = load_verified(artifact, json.dumps(card, indent=2).encode(), KEY)
    assert loaded_card == card
    np.testing.assert_allclose(pipeline.predict_proba(studio_pipeline.X_test)[:, 1], studio_pipeline.y_score)


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
    assert signing_key("from secrets " * 3) == b"from secrets " * 3  # st.secrets["artifact_signing_key"] wins
    assert [p.name for p in path.parent.iterdir()] == ["signing.key"]  # no temp file left


def test_the_default_key_file_is_outside_the_repository(monkeypatch):
    monkeypatch.delenv("PROSPECT_SIGNING_KEY_FILE")
    path = signing.default_key_file()
    assert path == Path.home() / ".config" / "prospect-studio" / "signing.key"
    assert Path(__file__).resolve().parents[2] not in path.parents


def test_an_unwritable_key_location_is_one_clear_message(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(signing.tempfile, "mkstemp", refuse)
    with pytest.raises(signing.UserError, match=r"cannot read or create the model signing key .*PROSPECT_SIGNING_KEY_FILE"):
        signing_key(key_file=tmp_path / "signing.key")


def test_the_cli_writes_a_signed_card_this_installation_accepts(tmp_path):
    from prospect_core.events.demo_data import write_demo_db

    db = tmp_path / "demo.duckdb"
    write_demo_db(db, n_users=300, seed=5)
    out = tmp_path / "model.joblib"
    result = subprocess.run(
        [sys.executable, "-m", "prospect_core", "train", "--source", f"duckdb:{db}", "--out", str(out),
         "--n-estimators", "20"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2], env=os.environ,
    )
    assert result.returncode == 0, result.stderr
    card_path = out.with_name(out.name + ".card.json")
    card = verify(out.read_bytes(), card_path.read_bytes(), signing_key())
    assert card["signature"]["key_id"] == key_id(signing_key())
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers


# ----- a validly signed pickle still cannot run code ----------------------------------------------


class Calls:
    """Pickles as a call of `function(*args)`: what an attacker holding the signing key would upload."""

    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


def joblib_bytes(value) -> bytes:
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    return buffer.getvalue()


def hidden_in_the_categories(run, payload):
    """The studio pipeline with `payload` inside its one-hot categories (an object array: joblib's nested pickle)."""
    import copy

    pipeline = copy.deepcopy(run.pipeline)
    encoder = pipeline.named_steps["preprocessor"].named_transformers_["cat"][-1]  # the branch ends in the encoder
    encoder.categories_[0] = np.array(["website", payload], dtype=object)
    return pipeline


def oddly_assembled(run):
    """Only allowed classes, but not the studio's shape: a bare scaler where the pipeline should be."""
    return run.pipeline.named_steps["preprocessor"].named_transformers_["num"][-1]


def other_function_arguments(run):
    """The studio pipeline whose np.asarray step is given other arguments: predict would call it with them."""
    import copy

    pipeline = copy.deepcopy(run.pipeline)
    pipeline.named_steps["preprocessor"].named_transformers_["num"][0].kw_args = {"dtype": np.float64, "copy": True}
    return pipeline


# (case, builds the pickled value from (marker, run), expected message)
SIGNED_HOSTILE_PICKLES = [
    ("os.system", lambda marker, run: Calls(os.system, f"touch {marker}"), r"refers to posix\.system"),
    ("eval", lambda marker, run: Calls(eval, f"open({str(marker)!r}, 'w')"), r"refers to builtins\.eval"),
    ("open", lambda marker, run: Calls(open, str(marker), "w"), r"refers to io\.open"),
    ("subprocess", lambda marker, run: Calls(subprocess.call, ["touch", str(marker)]), r"refers to subprocess\.call"),
    ("os.system inside a list", lambda marker, run: [1, Calls(os.system, f"touch {marker}")], r"refers to posix\.system"),
    ("os.system in the one-hot categories", lambda marker, run: hidden_in_the_categories(run, Calls(os.system, f"touch {marker}")),
     r"refers to posix\.system"),
    ("a Booster that reads a server file", lambda marker, run: Calls(xgboost.Booster, None, None, "/etc/hostname"),
     r"calls xgboost\.core\.Booster"),
    ("joblib's old format that reads companion files", lambda marker, run: Calls(NDArrayWrapper, "/etc/hostname", np.ndarray),
     r"refers to joblib\.numpy_pickle_compat\.NDArrayWrapper"),
    ("a forged array shape", lambda marker, run: NumpyArrayWrapper(np.ndarray, (10**12,), "C", np.dtype("f8")), r"declares an array of 8,000,000,000,000 bytes"),
    ("allowed classes, wrong shape", lambda marker, run: oddly_assembled(run), r"holds a StandardScaler that is not a studio pipeline"),
    ("np.asarray with other arguments", lambda marker, run: other_function_arguments(run), r"holds a Pipeline that is not a studio pipeline"),
]


@pytest.mark.parametrize("case, build, message", SIGNED_HOSTILE_PICKLES, ids=[row[0] for row in SIGNED_HOSTILE_PICKLES])
def test_a_correctly_signed_pickle_that_runs_code_is_refused_by_name(tmp_path, studio_pipeline, case, build, message):
    marker = tmp_path / "pwned"
    artifact = joblib_bytes(build(marker, studio_pipeline))
    card = json.dumps(sign_card(card_for(artifact), artifact, KEY))
    assert verify(artifact, card, KEY)  # the signature is valid: only the loader stands in the way
    with pytest.raises(ArtifactError, match=message) as refused:
        load_verified(artifact, card, KEY)
    assert "\n" not in str(refused.value) and "was not loaded" in str(refused.value)
    assert not marker.exists(), "the pickle ran its payload"


def test_the_os_system_payload_is_live_under_plain_joblib_load(tmp_path):
    """Control for the table above: joblib.load really does run the command."""
    import io

    import joblib

    marker = tmp_path / "pwned"
    joblib.load(io.BytesIO(joblib_bytes(Calls(os.system, f"touch {marker}"))))
    assert marker.exists()


@pytest.mark.parametrize("case, data", [("empty", b""), ("garbage", b"\x80\x05garbage"), ("cut in half", None)])
def test_an_unreadable_signed_artifact_is_one_clear_message(studio_pipeline, case, data):
    from prospect_core.outputs.artifact import artifact_bytes

    whole = artifact_bytes(studio_pipeline.pipeline)
    artifact = data if data is not None else whole[: len(whole) // 2]
    card = json.dumps(sign_card(card_for(artifact), artifact, KEY))
    with pytest.raises(ArtifactError, match=r"the joblib file cannot be read as a studio model") as refused:
        load_verified(artifact, card, KEY)
    assert "\n" not in str(refused.value)


def test_the_allow_list_is_exactly_what_a_studio_pipeline_references(studio_pipeline):
    """Re-derive the frozen list: every global a real pipeline pickles is listed (nothing missing)."""
    import io

    from joblib.numpy_pickle import NumpyUnpickler

    from prospect_core.outputs.artifact import CALLABLE_GLOBALS, CLASS_GLOBALS, REFERENCED_FUNCTIONS, artifact_bytes

    seen = set()

    class Recording(NumpyUnpickler):
        def find_class(self, module, name):
            seen.add((module, name))
            return super().find_class(module, name)

    Recording("", io.BytesIO(artifact_bytes(studio_pipeline.pipeline)), True).load()
    assert seen <= CALLABLE_GLOBALS | CLASS_GLOBALS | REFERENCED_FUNCTIONS
    assert ("posix", "system") not in CALLABLE_GLOBALS | CLASS_GLOBALS and len(seen) >= 12


# ----- the key and the card -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["a", "correct horse battery staple", "x" * 31])
def test_a_secrets_signing_key_under_32_bytes_is_refused(secret):
    with pytest.raises(signing.UserError, match=rf"`artifact_signing_key` in .streamlit/secrets.toml is too short "
                                                rf"\({len(secret)} bytes; at least 32"):
        signing_key(secret)
    assert signing_key("x" * 32) == b"x" * 32


def test_loading_an_upload_with_a_short_secrets_key_is_refused(monkeypatch, studio_pipeline):
    import io

    from prospect_core import studio
    from prospect_core.outputs.artifact import artifact_bytes

    artifact = artifact_bytes(studio_pipeline.pipeline)
    weak = b"a"
    card = json.dumps(sign_card(card_for(artifact), artifact, weak)).encode()  # what an attacker forges offline
    monkeypatch.setattr(studio.config, "secrets", lambda: {"artifact_signing_key": "a"})
    upload, card_upload = io.BytesIO(artifact), io.BytesIO(card)
    upload.name, card_upload.name = "model.joblib", "model.card.json"
    with pytest.raises(signing.UserError, match=r"too short \(1 bytes"):
        studio.load_uploaded_model(upload, card_upload)


FIVE_MB = "x" * 5_000_000
ONE_MB = "y" * 1_000_000
HOSTILE_CARDS = [
    ("200k nested [", b"[" * 200_000, r"the model card is nested too deeply"),
    ("200k nested { in a field", b'{"a":' * 200_000, r"the model card is nested too deeply|the model card is not JSON"),
    ("50,000-digit integer", b'{"card_version": ' + b"9" * 50_000 + b"}", r"the model card has a number too long to read"),
    ("5 MB algorithm field", json.dumps({"signature": {"algorithm": FIVE_MB, "value": ""}}).encode(),
     r"the model card is 5,000,\d{3} bytes, far more than a studio card"),
    ("1 MB algorithm field", json.dumps({"signature": {"algorithm": ONE_MB, "value": ""}}).encode(),
     r"signature uses 'y{79}… \(1,000,002 characters\); expected HMAC-SHA256"),
]


@pytest.mark.parametrize("case, card, message", HOSTILE_CARDS, ids=[row[0] for row in HOSTILE_CARDS])
def test_hostile_model_cards_are_one_short_message(tmp_path, case, card, message):
    marker = tmp_path / "pwned"
    with pytest.raises(ArtifactError, match=message) as refused:
        load_verified(malicious_bytes(marker), card, KEY)
    assert len(str(refused.value)) < 300 and "\n" not in str(refused.value)
    assert not marker.exists()


def test_load_a_model_refuses_a_signed_os_system_pickle_by_name(tmp_path):
    """The app's Load a model path (studio.load_uploaded_model), signed with this installation's own key."""
    import io

    from prospect_core import studio
    marker = tmp_path / "pwned"
    artifact = joblib_bytes(Calls(os.system, f"touch {marker}"))
    card = json.dumps(sign_card(card_for(artifact), artifact, studio.signing_key())).encode()
    upload, card_upload = io.BytesIO(artifact), io.BytesIO(card)
    upload.name, card_upload.name = "model.joblib", "model.card.json"
    with pytest.raises(ArtifactError, match=r"the joblib file refers to posix\.system, which a studio model never contains"):
        studio.load_uploaded_model(upload, card_upload)
    assert not marker.exists()


def test_a_studio_shaped_pipeline_with_a_foreign_step_state_is_refused(studio_pipeline):
    """Allowed classes in a shape the studio never writes: steps that are not pairs, a custom function."""
    import copy

    from sklearn.preprocessing import FunctionTransformer

    from prospect_core.outputs.artifact import load_artifact_bytes

    odd_steps = copy.deepcopy(studio_pipeline.pipeline)
    odd_steps.steps = [odd_steps.steps[0][1]]
    with_function = copy.deepcopy(studio_pipeline.pipeline)
    preprocessor = with_function.named_steps["preprocessor"]
    preprocessor.transformers_[1] = ("bool", FunctionTransformer(func=np.ndarray), preprocessor.transformers_[1][2])
    for pipeline in (odd_steps, with_function):
        with pytest.raises(ArtifactError, match=r"holds a Pipeline that is not a studio pipeline .*no custom functions"):
            load_artifact_bytes(joblib_bytes(pipeline))
