"""Sign exported models, and refuse to unpickle an upload this installation did not sign.

A joblib artifact is a pickle: loading one runs whatever code its author put in it. So the studio only
ever loads an uploaded artifact after checking an HMAC-SHA256 signature that it wrote itself into the
model card when it exported the model, keyed with a secret that never leaves this installation:

- `st.secrets["artifact_signing_key"]` when set (the app passes it in as `secret`), else
- a random key file created on first use at `$PROSPECT_SIGNING_KEY_FILE`, by default
  `~/.config/prospect-studio/signing.key` (mode 0600, outside the repository).

A valid signature is necessary but not sufficient: the artifact is then unpickled with an allow-list
of the classes a studio pipeline is made of (`artifact.load_artifact_bytes`), so a stolen key still
cannot make the server run code.

The signature covers the artifact's bytes (through their SHA-256) and every field of the card but the
signature itself, so changing either one invalidates it. Anyone holding the key can sign anything:
the key is what makes an upload trustworthy, so keep it as private as a password.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from prospect_core.outputs.artifact import ArtifactError, load_artifact_bytes
from prospect_core.infra.errors import UserError, shown

ALGORITHM = "HMAC-SHA256"
SIGNATURE_FIELD = "signature"
KEY_FILE_ENV = "PROSPECT_SIGNING_KEY_FILE"
SECRET_NAME = "artifact_signing_key"
_CONTEXT = b"prospect-studio artifact v1\n"
MIN_KEY_BYTES = 32  # HMAC-SHA256 with a shorter key can be brute-forced offline from one downloaded card
MAX_CARD_BYTES = 2_000_000  # a studio card is tens of kB; its SQL is the largest field


def default_key_file() -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or Path.home() / ".config" / "prospect-studio" / "signing.key")


def signing_key(secret: str | None = None, *, key_file: str | os.PathLike[str] | None = None) -> bytes:
    """This installation's signing key: `secret` when given, else the key file (created on first use)."""
    if secret:
        key = str(secret).encode("utf-8")
        if len(key) < MIN_KEY_BYTES:
            raise UserError(
                f"`{SECRET_NAME}` in .streamlit/secrets.toml is too short ({len(key)} bytes; at least {MIN_KEY_BYTES} "
                "are needed, or a downloaded model card lets anyone guess it). Set it to a random value such as "
                "the output of `python -c \"import secrets; print(secrets.token_hex(32))\"`, or remove it to use "
                "the key file"
            )
        return key
    path = Path(key_file) if key_file else default_key_file()
    try:
        if not path.is_file():
            _create_key_file(path)
        key = path.read_bytes().strip()
    except OSError as error:
        raise UserError(
            f"cannot read or create the model signing key at {path}: {error.strerror or error}. Set "
            f"{KEY_FILE_ENV} to a writable location, or `{SECRET_NAME}` in .streamlit/secrets.toml"
        ) from None
    if len(key) < MIN_KEY_BYTES:
        raise UserError(f"the model signing key at {path} is too short ({len(key)} bytes); delete it to create a new one")
    return key


def _create_key_file(path: Path) -> None:
    """Write a random key with mode 0600, atomically: concurrent first uses all end up with one key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as file:
            file.write(secrets.token_hex(32).encode("ascii") + b"\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp_name, path)  # fails if another process created the key first: keep theirs
        except FileExistsError:
            pass
    finally:
        Path(temp_name).unlink(missing_ok=True)


def key_id(key: bytes) -> str:
    """A short public name for a key (not the key): tells "signed elsewhere" apart from "changed"."""
    return hashlib.sha256(b"prospect-studio key id\n" + key).hexdigest()[:16]


def _message(artifact: bytes, card: dict[str, Any]) -> bytes:
    unsigned = {name: value for name, value in card.items() if name != SIGNATURE_FIELD}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return _CONTEXT + hashlib.sha256(artifact).hexdigest().encode("ascii") + b"\n" + canonical.encode("utf-8")


def sign_card(card: dict[str, Any], artifact: bytes, key: bytes) -> dict[str, Any]:
    """`card` with a `signature` field binding it to `artifact`'s bytes under `key`."""
    unsigned = {name: value for name, value in card.items() if name != SIGNATURE_FIELD}
    # Round-trip through JSON so the signed form is exactly what a reader of the card file sees.
    unsigned = json.loads(json.dumps(unsigned, default=str))
    value = hmac.new(key, _message(artifact, unsigned), hashlib.sha256).hexdigest()
    return {**unsigned, SIGNATURE_FIELD: {"algorithm": ALGORITHM, "key_id": key_id(key), "value": value}}


def verify(artifact: bytes, card_json: bytes | str, key: bytes) -> dict[str, Any]:
    """The parsed card when its signature is this installation's and matches both files; else ArtifactError."""
    if len(card_json) > MAX_CARD_BYTES:
        raise ArtifactError(
            f"the model card is {len(card_json):,} bytes, far more than a studio card (at most {MAX_CARD_BYTES:,}); "
            "upload the .card.json file exported with the model"
        )
    try:
        card = json.loads(card_json)
    except RecursionError:
        raise ArtifactError("the model card is nested too deeply to be a studio card; upload the .card.json file "
                            "exported with the model") from None
    except (UnicodeDecodeError, ValueError) as error:  # ValueError: not JSON, or a number of over 4,300 digits
        reason = "has a number too long to read" if "digits" in str(error) else "is not JSON"
        raise ArtifactError(f"the model card {reason}; upload the .card.json file exported with the model") from None
    if not isinstance(card, dict):
        raise ArtifactError("the model card is not a JSON object; upload the .card.json file exported with the model")
    signature = card.get(SIGNATURE_FIELD)
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        raise ArtifactError(
            "the model card has no signature, so nothing proves this studio wrote the model. A joblib file runs "
            "code when it is loaded, so unsigned models are never loaded here; export the model again from this studio"
        )
    if signature.get("algorithm") != ALGORITHM:
        raise ArtifactError(f"the model card's signature uses {shown(signature.get('algorithm'))}; expected {ALGORITHM}")
    if signature.get("key_id") != key_id(key):
        raise ArtifactError(
            "the model was signed by another installation (a different signing key), so it is not loaded: a joblib "
            "file runs code when loaded. Export it again from this studio, or load it where it was signed"
        )
    expected = hmac.new(key, _message(artifact, card), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature["value"]):
        recorded = (card.get("artifact") or {}).get("sha256") if isinstance(card.get("artifact"), dict) else None
        changed = "the joblib file" if recorded and recorded != hashlib.sha256(artifact).hexdigest() else "the model card"
        raise ArtifactError(
            f"the signature does not match: {changed} changed after this studio signed it (or the two files do "
            "not belong together), so the model is not loaded. Upload the files exactly as exported"
        )
    return card


def load_verified(artifact: bytes, card_json: bytes | str, key: bytes) -> tuple[Any, dict[str, Any]]:
    """`(pipeline, card)`: `artifact` is unpickled only after `verify` accepts it, and then only with the
    allow-list of `artifact.load_artifact_bytes`, so even a validly signed pickle cannot run code."""
    card = verify(artifact, card_json, key)
    return load_artifact_bytes(artifact), card
