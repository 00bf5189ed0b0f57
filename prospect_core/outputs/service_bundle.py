"""The scoring-service bundle: an exported model, ready to serve Snowplow's `/predict` contract.

One build path for the app (a zip) and the CLI (a folder). The bundle holds:

- `model.joblib` and `model.card.json`, byte for byte as exported (the card stays signed);
- `signals_definitions.json`, the Signals attribute group and service, when there is one;
- `service.py`, the FastAPI app in `prospect_core/outputs/service_template/`, copied verbatim: it imports
  nothing from `prospect_core`, checks the artifact's SHA-256 against the card before loading it,
  and maps Signals attributes to model inputs (see its `input_table` and `from_signals`);
- `requirements.txt`, `REQUIREMENTS` filled in with the versions the card says trained the model;
- `README.md`: how to run it, its environment variables and curl examples.

A bundle is written only for a model this installation signed: the service `joblib.load`s the artifact,
and can check only its SHA-256 against the card, not who made the pair. So the card's signature is
verified here first and the artifact is unpickled with the studio's allow-list (`signing.load_verified`,
as the app's Load a model), and no card text reaches `requirements.txt` but versions of a strict form.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from prospect_core.outputs.artifact import ArtifactError, sha256_hex
from prospect_core.infra.safe_io import write_bytes
from prospect_core.infra.errors import UserError, shown
from prospect_core.modelling.families import DEFAULT_FAMILY, FAMILIES
from prospect_core.trainingset.features import Feature, spec_features
from prospect_core.outputs.signing import load_verified
from prospect_core.trainingset.spec import TrainingSpec

BUNDLE_FOLDER = "prospect_scoring_service"  # the zip's one folder, and its file name's start
# What a model's card and Signals definitions add to its name (`train` and the app's downloads), so
# they are found beside it.
CARD_SUFFIX = ".card.json"
DEFINITIONS_SUFFIX = ".signals.json"
MODEL_FILE = "model.joblib"
CARD_FILE = "model.card.json"
DEFINITIONS_FILE = "signals_definitions.json"
SERVICE_FILE = "service.py"
TEMPLATE = Path(__file__).with_name("service_template") / SERVICE_FILE  # a real module, tested as it ships
INPUT_DTYPES = ("int64", "bool", "str")
# What trained the model, Python included, as the card records it (artifact.library_versions): the pickle
# needs these, and the model family's own library (`families.Family.library`, none for a logistic regression).
MODEL_LIBRARIES = ("python", "scikit-learn", "pandas", "numpy")
# What runs the service: pinned to this installation's versions, which the studio's tests ran it with;
# these ranges only where one is not installed.
SERVICE_LIBRARIES = {"fastapi": ">=0.110,<1", "uvicorn": ">=0.29,<1", "snowplow-signals": ">=0.4.10,<0.5",
                     "joblib": ">=1.4"}
# The whole of requirements.txt: a card fills in version numbers only, never a line, an option
# (`--extra-index-url`) or a library of its own.
REQUIREMENTS = """\
# The versions that trained the model (its card), on Python {python}: the pickle needs them.
scikit-learn=={scikit-learn}
{family_library}pandas=={pandas}
numpy=={numpy}
# The service, at the versions the studio ran it with.
fastapi{fastapi}
uvicorn[standard]{uvicorn}
snowplow-signals{snowplow-signals}
joblib{joblib}
"""
# A release number (1.5.2, 2.1.0rc1, 1.7.dev0), ASCII only: nothing pip could read as an option or a URL.
VERSION = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6}){0,3}(\.?[a-z]{1,5}[0-9]{1,6})?")
_ZIP_TIME = (2025, 1, 1, 0, 0, 0)  # fixed, so the same model always gives the same zip


class BundleError(UserError):
    """The model and card cannot make a service bundle; the message says why."""


def service_files(
    artifact: bytes, card_json: bytes, definitions: bytes | None = None, *, key: bytes
) -> dict[str, bytes]:
    """The bundle's files by name, once the card is verified as signed with `key` (`signing.signing_key`)
    over this artifact, the artifact holds only a studio pipeline, and the card's versions are versions."""
    card = _verified_card(artifact, card_json, key)
    versions = library_versions(card)
    bundle = {MODEL_FILE: artifact, CARD_FILE: card_json}
    if definitions is not None:
        bundle[DEFINITIONS_FILE] = _checked_definitions(definitions)
    bundle[SERVICE_FILE] = TEMPLATE.read_bytes()
    bundle["requirements.txt"] = requirements(versions).encode()
    bundle["README.md"] = readme(card, python=versions["python"], has_definitions=definitions is not None).encode()
    return bundle


def write_service_folder(
    out: str | os.PathLike[str], artifact: bytes, card_json: bytes, definitions: bytes | None = None, *, key: bytes
) -> list[Path]:
    """Write the bundle into folder `out` (created if needed); return the files written. Nothing is
    written, not even the folder, unless `service_files` accepts the model."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise BundleError(f"--out {folder} is a file; expected a folder for the service (it is created if missing)")
    written = []
    for name, data in service_files(artifact, card_json, definitions, key=key).items():
        write_bytes(folder / name, data, what=f"the service's {name}")
        written.append(folder / name)
    return written


def service_zip(artifact: bytes, card_json: bytes, definitions: bytes | None = None, *, key: bytes) -> bytes:
    """The bundle as a zip of one folder, `BUNDLE_FOLDER/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in service_files(artifact, card_json, definitions, key=key).items():
            info = zipfile.ZipInfo(f"{BUNDLE_FOLDER}/{name}", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def service_zip_name(sha256: str) -> str:
    return f"{BUNDLE_FOLDER}_{sha256[:8]}.zip"


def model_card_path(model: Path) -> Path:
    """Where `train` writes a model's card unless told otherwise: `model.joblib.card.json`."""
    return model.with_name(model.name + CARD_SUFFIX)


def card_beside(model: Path) -> Path:
    """The card the studio writes next to a model: `model.joblib.card.json` (CLI) or `model.card.json` (app)."""
    candidates = [model_card_path(model), model.with_suffix(CARD_SUFFIX)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BundleError(
        f"no model card next to {model.name} (looked for {' and '.join(c.name for c in candidates)}); "
        "pass the card exported with the model as --card FILE"
    )


def definitions_path(model: Path) -> Path:
    """Where `train` writes a model's Signals definitions: `model.joblib.signals.json`."""
    return model.with_name(model.name + DEFINITIONS_SUFFIX)


def definitions_beside(model: Path) -> Path | None:
    """The Signals definitions next to a model (`train`'s name, or the app's `model.signals.json`), if any."""
    for candidate in (definitions_path(model), model.with_suffix(DEFINITIONS_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


def _verified_card(artifact: bytes, card_json: bytes, key: bytes) -> dict[str, Any]:
    try:
        _, card = load_verified(artifact, card_json, key)
    except ArtifactError as error:
        raise BundleError(f"no service written: {error}") from None
    card = _checked_fields(card)
    if card["artifact"].get("sha256") != sha256_hex(artifact):  # signed, but the service would refuse to start
        raise BundleError(
            "the model card does not belong to this model: its SHA-256 is not the artifact's. Use the card "
            "exported with the model, unchanged"
        )
    return card


def _checked_card_json(card_json: bytes) -> dict[str, Any]:
    try:
        card = json.loads(card_json)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError("the model card is not JSON; expected the .card.json file exported with the model") from None
    return _checked_fields(card)


def _checked_fields(card: Any) -> dict[str, Any]:
    if not isinstance(card, dict) or not isinstance(card.get("artifact"), dict):
        raise BundleError("the model card has no artifact section; expected the .card.json file exported with the model")
    columns = card.get("input_columns")
    if not isinstance(columns, list) or not columns or not all(
        isinstance(column, dict) and isinstance(column.get("name"), str) and column.get("dtype") in INPUT_DTYPES
        for column in columns
    ):
        raise BundleError(f"the model card's input_columns must list each input's name and dtype ({', '.join(INPUT_DTYPES)})")
    if not isinstance(card.get("libraries"), dict) or not isinstance(card.get("target"), dict):
        raise BundleError("the model card lacks its libraries or target section; export the model again from the studio")
    return card


def _checked_definitions(definitions: bytes) -> bytes:
    try:
        parsed = json.loads(definitions)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError("the Signals definitions file is not JSON; expected the file the studio's signals export writes") from None
    if not isinstance(parsed, dict):
        raise BundleError("the Signals definitions file must hold a JSON object")
    return definitions


def card_family(card: dict[str, Any]) -> str:
    """The model family a card names (cards from before families are XGBoost); else BundleError."""
    params = card.get("params")
    family = params.get("family", DEFAULT_FAMILY) if isinstance(params, dict) else DEFAULT_FAMILY
    if family not in FAMILIES:
        raise BundleError(f"the model card's params.family is {shown(family)}; expected one of {', '.join(FAMILIES)}")
    return family


def library_versions(card: dict[str, Any]) -> dict[str, str]:
    """The card's version of each of MODEL_LIBRARIES and its family's library, each a plain release
    number; else BundleError."""
    recorded = card["libraries"]
    versions = {}
    library = FAMILIES[card_family(card)].library
    for name in (*MODEL_LIBRARIES, *([library] if library else [])):
        version = recorded.get(name)
        if not (isinstance(version, str) and VERSION.fullmatch(version)):
            raise BundleError(
                f"the model card's libraries.{name} is {shown(version)}; expected a version number such as 1.5.2 "
                "or 2.1.0rc1, the only card text requirements.txt takes. Export the model again from the studio"
            )
        versions[name] = version
    return versions


def requirements(versions: dict[str, str]) -> str:
    """requirements.txt: REQUIREMENTS with the model's libraries at `versions` (`library_versions`) and
    the service's at this installation's versions."""
    service = {}
    for name, fallback in SERVICE_LIBRARIES.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = ""
        service[name] = f"=={installed}" if VERSION.fullmatch(installed) else fallback
    family_library = "".join(f"{name}=={versions[name]}\n" for name in versions if name not in MODEL_LIBRARIES)
    return REQUIREMENTS.format_map({**versions, **service, "family_library": family_library})


def example_attributes(card: dict[str, Any]) -> dict[str, Any]:
    """A `/score` payload with every input at its default, or at the first value its property may take
    when the default is not one (`day_of_week`'s 0 is no weekday: Monday, 1), from the card's spec."""
    spec = _card_spec(card)
    return {feature.column(spec): _example_value(feature) for feature in spec_features(spec)}


def _example_value(feature: Feature) -> Any:
    prop = feature.value_property
    if prop is not None and prop.values is not None and feature.default not in prop.values:
        return prop.values[0]
    return feature.default


def _card_spec(card: dict[str, Any]) -> TrainingSpec:
    try:
        return TrainingSpec.from_dict({k: tuple(v) if isinstance(v, list) else v for k, v in card["spec"].items()})
    except (KeyError, TypeError, AttributeError, UserError) as error:
        raise BundleError(f"the model card's spec cannot be read ({str(error)[:200]}); export the model again") from None


_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/\-]*)?$")


def call_examples(card: dict[str, Any] | bytes, url: str = "http://localhost:8000") -> dict[str, str]:
    """How to call the service at `url`: a `curl` for /predict and /score, and a browser snippet."""
    if not isinstance(card, dict):
        card = _checked_card_json(card)
    url = url.strip().rstrip("/")
    if not _URL.match(url):
        raise BundleError(f"the service URL must look like https://scoring.example.com or http://localhost:8000, got {url[:80]!r}")
    curl = (
        f"curl -s -X POST {url}/predict -H 'Content-Type: application/json' \\\n"
        "  -d '{\"domain_userid\": \"1f4e2c9a-0000-4000-8000-000000000000\"}'\n"
        f"curl -s -X POST {url}/score -H 'Content-Type: application/json' \\\n"
        f"  -d '{json.dumps({'attributes': example_attributes(card)})}'"
    )
    javascript = f"""setInterval(async () => {{
  const response = await fetch("{url}/predict", {{
    method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{domain_userid: DOMAIN_USERID}}),
  }});
  if (response.ok && (await response.json()).flagged) {{ /* act on a likely prospect */ }}
}}, 10000);"""
    return {"curl": curl, "javascript": javascript}


def readme(card: dict[str, Any], *, python: str, has_definitions: bool) -> str:
    target = card["target"]
    inputs = "\n".join(f"| `{c['name']}` | {c['dtype']} |" for c in card["input_columns"])
    examples = call_examples(card)
    definitions_note = (
        f"`{DEFINITIONS_FILE}` holds the Signals attribute group and service; publish them with the "
        "`snowplow-signals` SDK before calling `/predict`."
        if has_definitions
        else f"This bundle has no `{DEFINITIONS_FILE}`: set `SIGNALS_SERVICE_NAME` to the Signals service "
        "that computes the model's attributes (each attribute named as the input it feeds)."
    )
    return f"""# Prospect scoring service

Scores `{target['column']}`: {target.get('description', '')}. Model SHA-256 `{card['artifact']['sha256']}`.

## Run

```sh
python -m venv .venv && . .venv/bin/activate   # Python {python} trained the model
pip install -r requirements.txt
export SP_SANDBOX_URL=https://... SP_SANDBOX_TOKEN=...   # or the SP_API_* variables below
uvicorn service:app --host 0.0.0.0 --port 8000
```

On start the service checks that `model.joblib`'s SHA-256 is the one in `{CARD_FILE}` and refuses to
start otherwise. (That proves the two files belong together, not who made them: a joblib file runs
code when it is loaded, so serve only bundles you exported yourself.) {definitions_note}

## Environment variables

| variable | meaning |
| --- | --- |
| `SP_SANDBOX_URL`, `SP_SANDBOX_TOKEN` | a Signals sandbox (the notebook's names) |
| `SP_API_URL`, `SP_API_KEY`, `SP_API_KEY_ID`, `SP_ORG_ID` | Snowplow Signals with an API key, used when the sandbox variables are unset |
| `SIGNALS_SERVICE_NAME` | the Signals service to read; overrides the definitions file |
| `SIGNALS_TIMEOUT_SECONDS` | how long `/predict` waits for Signals before answering 503 (default 2) |
| `PROSPECT_THRESHOLD` | `flagged` is `score >= threshold`; default the card's recommended threshold, else 0.5 |
| `CORS_ALLOWED_ORIGINS` | comma-separated origins a browser may call from; CORS is off when unset |

Credentials are read from the environment only and never appear in a response or a log line.

## Endpoints

- `POST /predict {{"domain_userid": "..."}}`: fetches the prospect's attributes from Signals and scores them.
  `None` becomes the input's default, a list (a `unique_list`) its length where the model takes a count,
  a counter `> 0` where it takes a flag; `day_of_week` is the ISO weekday of the request time in UTC.
- `POST /score {{"attributes": {{...}}}}`: scores model inputs by name; missing inputs take their defaults.
  `scoring_attributes` from any response can be sent back here.
- `GET /health`, `GET /model` (target, inputs, metrics, threshold, parity notes).

Both scoring endpoints answer `{{"signals", "scoring_attributes", "explanations", "score", "flagged"}}`.
`signals` (on `/predict`) holds the attribute key and each Signals attribute the model reads, as the
input it became; nothing else Signals returns is echoed. `explanations` holds the five largest SHAP contributions (log-odds) by input, `__sum_of_others` and
`__base_value`; they add up to the log-odds of `score`. A bad value (a string for a count, NaN, a
number past 10^15 or of 400 digits), from the request or from Signals, gets a 422 naming the field;
Signals unreachable or slow gets a 503.

```sh
{examples["curl"]}
```

From a web page (allow its origin in `CORS_ALLOWED_ORIGINS`), every 10 s as in Snowplow's tutorial:

```js
{examples["javascript"]}
```

## Inputs

| input | dtype |
| --- | --- |
{inputs}
"""
