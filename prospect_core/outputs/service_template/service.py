"""Prospect scoring service: a model exported by Prospect Scoring Studio behind Snowplow's /predict contract.

Run it from this folder with `python service.py` (one worker process a core; README.md says how to
choose) or `uvicorn service:app --host 0.0.0.0 --port 8000`.

- `POST /predict {"domain_userid": "..."}` fetches the prospect's attributes from Snowplow Signals
  (`get_service_attributes`, with the real `snowplow-signals` client), maps them to the model's inputs
  and scores them. A prospect Signals has not seen (or has no value for, in every attribute the model
  reads) is scored as one with no history: every input at its default; the answer says `"known": false`.
- `POST /score {"attributes": {...}}` scores model inputs given by name (what `scoring_attributes` in
  a response shows, so a saved response can be replayed); missing inputs take their defaults.
- `GET /health`, `GET /model` (the model card's summary).

Both scoring endpoints answer `{"signals", "scoring_attributes", "explanations", "score", "flagged"}`,
and `/predict` also `"known"`. A request may say `"explain": false`: `explanations` is then null and
no SHAP value is computed, so the request costs the model alone.
`signals` holds the attribute key and each Signals attribute the model reads, as the input it became
(never Signals' own answer: an attribute the model ignores may be a 2M-item list, or NaN, which JSON
cannot carry), so every response is typed and bounded by the model's inputs. `explanations` holds the
five largest contributions (log-odds) grouped back to model inputs, plus `__sum_of_others` and
`__base_value`: all of them add up to the log-odds of `score`. They are SHAP values for an XGBoost
model and coefficient times scaled value for a logistic regression (its intercept the base value).

On start the service checks model.joblib's SHA-256 against the model card and refuses to start on a
mismatch, before unpickling anything. This file imports nothing from the studio: it needs only the
packages in requirements.txt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

HERE = Path(__file__).resolve().parent
MODEL_FILE = "model.joblib"
CARD_FILE = "model.card.json"
DEFINITIONS_FILE = "signals_definitions.json"  # optional: the Signals attribute group and service

DEFAULT_TIMEOUT_SECONDS = 2.0
DEFAULT_THRESHOLD = 0.5
DEFAULT_ATTRIBUTE_KEY = "domain_userid"
MAX_BODY_BYTES = 2 * 1024 * 1024  # larger requests get a 413 before they are read
MAX_TEXT_CHARS = 1_000  # a category longer than this is not a real attribute value
MAX_COUNT = 10**15  # as the studio: far beyond any real count, and exact in float64
TOP_EXPLANATIONS = 5
DEFAULTS = {"int64": 0, "bool": False, "str": ""}
# Snowplow's Console credentials come first; the Sandbox's (retired by Snowplow's docs) stay accepted.
API_VARIABLES = ("SP_API_URL", "SP_API_KEY", "SP_API_KEY_ID", "SP_ORG_ID")
SANDBOX_VARIABLES = ("SP_SANDBOX_URL", "SP_SANDBOX_TOKEN")
WORKERS_VARIABLE = "WEB_CONCURRENCY"  # uvicorn's own name for its worker count

log = logging.getLogger("prospect_service")
if not log.handlers:  # uvicorn configures only its own loggers
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
# httpx logs every request URL at INFO; keep Signals traffic (and anything in its URLs) out of the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)


class StartupError(RuntimeError):
    """The service refuses to start; the message says why and what to do."""


class InputError(ValueError):
    """A request the model cannot score: answered with a 422 whose message names the field."""


def wrong(field: str, expected: str, value: Any) -> InputError:
    return InputError(f"{field} must be {expected}, got {_describe(value)}")


class SignalsUnavailable(RuntimeError):
    """Signals is not configured, unreachable, slow or refused the call: answered with a 503."""


def _describe(value: Any) -> str:
    """What a bad value is, without echoing it (it may be huge or private)."""
    if isinstance(value, str):
        return f"a string of {len(value):,} characters" if len(value) > 40 else f"the string {value!r}"
    if isinstance(value, (list, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, int) and abs(value) > MAX_COUNT * 10**6:
        return f"a number of {len(str(abs(value))):,} digits"
    return f"{value!r}" if isinstance(value, (bool, int, float)) or value is None else f"a {type(value).__name__}"


# ----- the model inputs and where they come from ---------------------------------------------------


@dataclass(frozen=True)
class ModelInput:
    name: str  # the model's input column
    dtype: str  # "int64", "bool" or "str", as in the card's input_columns
    source: str  # "signals": read `attribute` from Signals; "request_time": the ISO weekday, UTC
    attribute: str  # the Signals attribute read ("" for request_time inputs)
    default: Any  # what None or a missing value becomes (request-time inputs are always computed)


def input_table(card: dict[str, Any], definitions: dict[str, Any] | None) -> list[ModelInput]:
    """The mapping from Signals to model inputs: the one place that says where each input comes from.

    An explicit table in the definitions file wins: `"model_inputs": [{"input": "num_sessions_l7d",
    "attribute": "num_sessions_l7d", "source": "signals", "default": 0}, ...]` (every key but `input` is
    optional). Without one, each input reads the Signals attribute of its own name, and `day_of_week`
    comes from the request time, as Snowplow's own serving code does. The dtypes always come from the
    card: they are what the model was trained on.
    """
    dtypes = {column["name"]: column["dtype"] for column in card["input_columns"]}
    explicit = {row["input"]: row for row in (definitions or {}).get("model_inputs") or []}
    table = []
    for name, dtype in dtypes.items():
        row = explicit.get(name, {})
        source = row.get("source") or ("request_time" if name == "day_of_week" else "signals")
        attribute = "" if source == "request_time" else row.get("attribute") or name
        default = None if source == "request_time" else row.get("default", DEFAULTS[dtype])
        table.append(ModelInput(name=name, dtype=dtype, source=source, attribute=attribute, default=default))
    return table


def request_weekday(now: dt.datetime | None = None) -> int:
    """ISO day of week of the request, in UTC (1 = Monday): how the studio's SQL encodes day_of_week."""
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoweekday()


def from_signals(table: list[ModelInput], signals: dict[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """Signals attributes -> model inputs, the inverse of the exported definitions.

    None becomes the default; a list (a `unique_list`) becomes its length where the model takes a
    count; a number (a counter) becomes `> 0` where the model takes a flag; request-time inputs are
    computed here; attributes the model does not read are ignored. A value of another type raises
    InputError naming the attribute.
    """
    row: dict[str, Any] = {}
    for item in table:
        if item.source == "request_time":
            row[item.name] = request_weekday(now)
            continue
        value = signals.get(item.attribute)
        if value is None:
            value = item.default
        elif item.dtype == "int64" and isinstance(value, list):
            value = len(value)
        elif item.dtype == "bool" and _is_number(value) and not _is_nan(value):
            value = value > 0
        row[item.name] = checked(item, value, f"Signals attribute {item.attribute!r}")
    return row


def from_payload(table: list[ModelInput], attributes: dict[str, Any]) -> dict[str, Any]:
    """Model inputs given by name (`POST /score`) -> a complete, typed row; unknown names are refused."""
    known = {item.name: item for item in table}
    unknown = [name for name in attributes if name not in known]
    if unknown:
        shown = unknown[0] if len(unknown[0]) <= 64 else unknown[0][:64] + "..."
        raise InputError(f"attributes.{shown} is not an input of this model; expected names from: {', '.join(known)}")
    row = {}
    for item in table:
        value = attributes.get(item.name)
        if value is None:
            value = request_weekday() if item.source == "request_time" else item.default
        row[item.name] = checked(item, value, f"attributes.{item.name}")
    return row


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _whole(value: Any) -> int | None:
    """`value` as an int if it is a whole number; an int is never made a float (a 400-digit one overflows)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # NaN and inf are not
    return value if _is_number(value) else None


def checked(item: ModelInput, value: Any, field: str) -> Any:
    """`value` as the model's dtype for `item`, or InputError naming `field`."""
    if item.dtype == "int64":
        whole = _whole(value)
        if whole is not None and 0 <= whole <= MAX_COUNT:
            return whole
        raise wrong(field, f"a whole number from 0 to {MAX_COUNT:,}", value)
    if item.dtype == "bool":
        if isinstance(value, bool):
            return value
        raise wrong(field, "true or false", value)
    if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS:
        return value
    raise wrong(field, f"a string of at most {MAX_TEXT_CHARS:,} characters", value)


# ----- scoring ---------------------------------------------------------------------------------------


class Scorer:
    """Scores one row and explains it: with XGBoost's own SHAP values (`pred_contribs`, no `shap`
    needed), or a logistic regression's coefficients times the row's transformed values.

    A calibrated model (scikit-learn's CalibratedClassifierCV) scores with its own `predict_proba`,
    the calibrated probability the joblib gives; it is explained by its fold classifiers' contributions
    averaged, which add up to their mean log-odds before calibration (the card says so).

    The fitted preprocessor is also compiled into plain numpy steps (scaling and one-hot lookups read
    from the fitted transformers), because scikit-learn's per-call checks cost ~3 ms a row, which 8
    concurrent clients turn into a p95 beyond 20 ms. The compiled form is used only after it gave
    exactly the pipeline's matrix on probe rows at start; otherwise the pipeline itself transforms.
    """

    def __init__(self, pipeline: Any, table: list[ModelInput]) -> None:
        self.preprocessor = pipeline.named_steps["preprocessor"]
        self.classifier = pipeline.named_steps["classifier"]
        self.calibrated = hasattr(self.classifier, "calibrated_classifiers_")
        self.folds = [pair.estimator for pair in self.classifier.calibrated_classifiers_] if self.calibrated else [self.classifier]
        self.boosters = []
        if hasattr(self.folds[0], "get_booster"):  # XGBoost; a logistic regression has coef_ instead
            import xgboost

            self._xgboost = xgboost
            self.boosters = [fold.get_booster() for fold in self.folds]
            for booster in self.boosters:
                booster.set_param({"nthread": 1})  # one row at a time: threads only add overhead
        self.table = table
        self.columns = [column for name, _, columns in self.preprocessor.transformers_ if name != "remainder" for column in columns]
        if sorted(self.columns) != sorted(item.name for item in table):
            raise StartupError(
                f"the model reads columns {self.columns} but the card lists {[item.name for item in table]}: "
                "model.joblib and the card do not belong together"
            )
        self.sources = self._output_sources()
        self._compiled = _compile(self.preprocessor)
        self.fast = self._compiled is not None and self._agrees_with_pipeline()
        if not self.fast:
            log.warning("the compiled preprocessor is off: scikit-learn transforms each request (slower)")

    def _output_sources(self) -> np.ndarray:
        """For each column of the transformed matrix, the index of the input (in table order) it comes from,
        read from the ColumnTransformer's output names (`cat__latest_app_id_website` -> latest_app_id)."""
        names = [item.name for item in self.table]
        sources = []
        for output in self.preprocessor.get_feature_names_out():
            rest = output.split("__", 1)[1]
            matches = [name for name in names if rest == name or rest.startswith(name + "_")]
            exact = [name for name in matches if name == rest]
            sources.append(names.index((exact or sorted(matches, key=len))[-1]))
        return np.asarray(sources)

    def _frame(self, rows: list[dict[str, Any]]) -> Any:
        import pandas as pd

        dtypes = {item.name: ("object" if item.dtype == "str" else item.dtype) for item in self.table}
        return pd.DataFrame(rows, columns=self.columns).astype({column: dtypes[column] for column in self.columns})

    def matrix(self, row: dict[str, Any]) -> np.ndarray:
        if self.fast:
            return _run_compiled(self._compiled, row)[None, :]
        return np.asarray(self.preprocessor.transform(self._frame([row])), dtype=np.float64)

    def _agrees_with_pipeline(self) -> bool:
        probes = _probe_rows(self.table, self._compiled)
        expected = np.asarray(self.preprocessor.transform(self._frame(probes)), dtype=np.float64)
        got = np.vstack([_run_compiled(self._compiled, row) for row in probes])
        return got.shape == expected.shape and np.array_equal(got, expected)

    def score(self, row: dict[str, Any], explain: bool = True) -> tuple[float, dict[str, float] | None]:
        matrix = self.matrix(row)
        if self.boosters and not self.calibrated:
            score = float(self.boosters[0].inplace_predict(matrix)[0])  # what pipeline.predict_proba(...)[:, 1] gives
        else:
            score = float(self.classifier.predict_proba(matrix)[0, 1])
        if not explain:
            return score, None
        if self.boosters:
            rows = self._xgboost.DMatrix(matrix, nthread=1)
            contributions = np.mean([booster.predict(rows, pred_contribs=True)[0] for booster in self.boosters], axis=0)
            per_column, base_value = contributions[:-1], float(contributions[-1])
        else:
            per_column = matrix[0] * np.mean([fold.coef_[0] for fold in self.folds], axis=0)
            base_value = float(np.mean([fold.intercept_[0] for fold in self.folds]))
        per_input = np.bincount(self.sources, weights=per_column, minlength=len(self.table))
        return score, explanations(per_input, [item.name for item in self.table], base_value)


def explanations(per_input: np.ndarray, names: list[str], base_value: float) -> dict[str, float]:
    """The five largest contributions by size, `__sum_of_others` for the rest, and `__base_value`."""
    order = np.argsort(-np.abs(per_input), kind="stable")
    top, others = order[:TOP_EXPLANATIONS], order[TOP_EXPLANATIONS:]
    result = {names[i]: float(per_input[i]) for i in top}
    result["__sum_of_others"] = float(per_input[others].sum())
    result["__base_value"] = base_value
    return result


def _compile(preprocessor: Any) -> list[tuple[str, list[str], Any]] | None:
    """The fitted ColumnTransformer as `(kind, columns, parameters)` blocks, or None if it holds a step
    this service does not know. Missing-value steps are left out: rows reaching it are complete."""
    blocks = []
    for name, transformer, columns in preprocessor.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        last = transformer.steps[-1][1] if hasattr(transformer, "steps") else transformer
        if hasattr(last, "categories_"):
            if getattr(last, "drop_idx_", None) is not None or getattr(last, "handle_unknown", "") != "ignore":
                return None
            lookups = [{value: i for i, value in enumerate(categories.tolist())} for categories in last.categories_]
            blocks.append(("onehot", list(columns), lookups))
        elif hasattr(last, "scale_") and hasattr(last, "mean_"):
            mean = last.mean_ if last.with_mean else np.zeros(len(columns))
            scale = last.scale_ if last.with_std else np.ones(len(columns))
            blocks.append(("scale", list(columns), (np.asarray(mean, float), np.asarray(scale, float))))
        else:
            blocks.append(("float", list(columns), None))
    return blocks


def _run_compiled(blocks: list[tuple[str, list[str], Any]], row: dict[str, Any]) -> np.ndarray:
    parts = []
    for kind, columns, parameters in blocks:
        if kind == "onehot":
            for column, lookup in zip(columns, parameters):
                encoded = np.zeros(len(lookup))
                position = lookup.get(row[column])
                if position is not None:
                    encoded[position] = 1.0
                parts.append(encoded)
        else:
            values = np.array([row[column] for column in columns], dtype=np.float64)
            if kind == "scale":
                values -= parameters[0]  # the same two float64 operations as StandardScaler.transform
                values /= parameters[1]
            parts.append(values)
    return np.concatenate(parts)


def _probe_rows(table: list[ModelInput], blocks: list[tuple[str, list[str], Any]]) -> list[dict[str, Any]]:
    """Rows that visit every known category and a spread of counts and flags, plus the defaults."""
    categories = {column: list(lookup) for kind, columns, lookups in blocks if kind == "onehot" for column, lookup in zip(columns, lookups)}
    longest = max([len(values) for values in categories.values()] + [4])
    rows = [{item.name: item.default if item.source == "signals" else 1 for item in table}]
    for k in range(longest):
        row = {}
        for item in table:
            if item.name in categories:
                row[item.name] = categories[item.name][k % len(categories[item.name])]
            elif item.dtype == "bool":
                row[item.name] = k % 2 == 1
            elif item.dtype == "int64":
                row[item.name] = (k * 7 + len(item.name)) % 50
            else:
                row[item.name] = f"unseen-{k}"
        rows.append(row)
    return rows


# ----- Signals --------------------------------------------------------------------------------------


def signals_client() -> Any | None:
    """The real snowplow-signals client: the Console's API key when all its variables are set, else the
    Sandbox's token, else None. (The studio's `prospect_core.outputs.signals.signals_client` does the same.)"""
    env = os.environ
    if all(env.get(name) for name in API_VARIABLES):
        from snowplow_signals import Signals

        return Signals(
            api_url=env["SP_API_URL"], api_key=env["SP_API_KEY"], api_key_id=env["SP_API_KEY_ID"], org_id=env["SP_ORG_ID"]
        )
    if all(env.get(name) for name in SANDBOX_VARIABLES):
        from snowplow_signals import SignalsSandbox

        return SignalsSandbox(api_url=env["SP_SANDBOX_URL"], sandbox_token=env["SP_SANDBOX_TOKEN"])
    partly = [name for name in (*API_VARIABLES, *SANDBOX_VARIABLES) if env.get(name)]
    if partly:  # names only: values are credentials
        log.warning("Signals is not configured: %s set, but not all of %s or of %s", ", ".join(partly),
                    ", ".join(API_VARIABLES), " and ".join(SANDBOX_VARIABLES))
    return None


def signals_names(definitions: dict[str, Any] | None) -> tuple[str | None, str]:
    """`(service name, attribute key)`: SIGNALS_SERVICE_NAME, else the definitions' Service."""
    service, key = None, DEFAULT_ATTRIBUTE_KEY
    for value in (definitions or {}).values():
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict):
                continue
            if "attribute_groups" in item and isinstance(item.get("name"), str):
                service = service or item["name"]
            attribute_key = item.get("attribute_key")
            if isinstance(attribute_key, dict) and isinstance(attribute_key.get("name"), str):
                key = attribute_key["name"]
    return os.environ.get("SIGNALS_SERVICE_NAME") or service, key


def _fetch_attributes(client: Any, service: str, key: str, identifier: str) -> dict[str, Any]:
    return client.get_service_attributes(name=service, attribute_key=key, identifier=identifier)


def _signals_failure(error: BaseException) -> str:
    """A message about a failed Signals call that cannot carry a credential: no exception text."""
    status = getattr(error, "status_code", None)  # SignalsAPIError; httpx.HTTPStatusError from the token route
    status = status if isinstance(status, int) else getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        hint = {401: ": check the credentials", 403: ": check the credentials", 404: ": check the service name"}
        return f"Signals answered HTTP {status}{hint.get(status, '')}"
    return f"Signals could not be reached ({type(error).__name__})"


# ----- settings, files and the app -------------------------------------------------------------------


def _float_setting(name: str, default: float, low: float, high: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise StartupError(f"{name} must be a number from {low:g} to {high:g}, got {text[:40]!r}")
    return value


def card_threshold(card: dict[str, Any]) -> float | None:
    """The card's recommended threshold: a number, or a section with a `value`."""
    recommended = card.get("recommended_threshold")
    if isinstance(recommended, dict):
        recommended = recommended.get("value")
    return float(recommended) if _is_number(recommended) and 0 <= recommended <= 1 else None


def load_bundle(folder: Path = HERE) -> dict[str, Any]:
    """The card, the definitions and the pipeline; the artifact is unpickled only if its SHA-256 matches."""
    import joblib

    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
        artifact = (folder / MODEL_FILE).read_bytes()
    except (OSError, ValueError) as error:
        raise StartupError(f"cannot read {CARD_FILE} and {MODEL_FILE} in {folder.name}/: {error}") from None
    expected = str((card.get("artifact") or {}).get("sha256", ""))
    actual = hashlib.sha256(artifact).hexdigest()
    if actual != expected:
        raise StartupError(
            f"{MODEL_FILE} has SHA-256 {actual[:16]}..., but the model card says {expected[:16] or '(none)'}...: "
            "the artifact is not the one exported with this card, so it is not loaded. Download the bundle again"
        )
    definitions_path = folder / DEFINITIONS_FILE
    definitions = json.loads(definitions_path.read_text(encoding="utf-8")) if definitions_path.is_file() else None
    return {"card": card, "definitions": definitions, "pipeline": joblib.load(io.BytesIO(artifact))}


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain_userid: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    explain: StrictBool = True  # "no" or 0 is refused, not read as false


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attributes: dict[str, Any] = Field(max_length=500)
    explain: StrictBool = True  # "no" or 0 is refused, not read as false


class BodyLimit:
    """Refuse a body larger than MAX_BODY_BYTES before reading it; a POST must say its length (no chunks)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            refusal = None
            if length is None and scope["method"] == "POST":
                refusal = JSONResponse({"detail": "send the request body with a Content-Length header"}, 411)
            elif length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
                refusal = JSONResponse({"detail": f"the request body must be at most {MAX_BODY_BYTES:,} bytes"}, 413)
            if refusal is not None:
                return await refusal(scope, receive, send)
        await self.app(scope, receive, send)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        bundle = load_bundle()
        card = bundle["card"]
        table = input_table(card, bundle["definitions"])
        state = app.state
        state.card, state.table = card, table
        state.scorer = Scorer(bundle["pipeline"], table)
        state.threshold = _float_setting("PROSPECT_THRESHOLD", card_threshold(card) or DEFAULT_THRESHOLD, 0.0, 1.0)
        state.timeout = _float_setting("SIGNALS_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, 0.05, 60.0)
        state.service, state.attribute_key = signals_names(bundle["definitions"])
        state.signals = signals_client()
    except StartupError as error:
        log.critical("refusing to start: %s", error)
        raise
    # Signals calls block (the SDK uses sync httpx); a slow Signals holds a thread, never the event loop.
    state.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="signals")
    log.info("scoring %s (model %s...), threshold %.3f, Signals %s", card["target"]["column"],
             card["artifact"]["sha256"][:12], state.threshold, "configured" if state.signals else "not configured")
    yield
    state.executor.shutdown(wait=False, cancel_futures=True)


def create_app() -> FastAPI:
    app = FastAPI(title="Prospect scoring service", lifespan=lifespan, docs_url=None, redoc_url=None)
    origins = [origin.strip() for origin in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if origin.strip()]
    if origins:  # off unless asked for: a browser on another site cannot call the service by default
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["Content-Type"])
    app.add_middleware(BodyLimit)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for problem in error.errors()[:5]:  # the message, never the input: it may be 1 MB
            where = ".".join(str(part) for part in problem["loc"] if part != "body") or "the request body"
            problems.append(f"{where}: {problem['msg']}")
        return JSONResponse({"detail": "; ".join(problems)}, 422)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, error: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, 422)

    @app.exception_handler(SignalsUnavailable)
    async def signals_unavailable(request: Request, error: SignalsUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, 503)

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        state = request.app.state
        return {"status": "ok", "model_sha256": state.card["artifact"]["sha256"], "signals_configured": state.signals is not None}

    @app.get("/model")
    async def model(request: Request) -> dict[str, Any]:
        state = request.app.state
        card = state.card
        return {
            "target": card["target"],
            "inputs": [item.__dict__ for item in state.table],
            "metrics": card.get("metrics"),
            "recommended_threshold": card_threshold(card),
            "threshold": state.threshold,
            "parity": card.get("parity"),
            "artifact_sha256": card["artifact"]["sha256"],
            "created_at": card.get("created_at"),
            "signals_service": state.service,
            "signals_attribute_key": state.attribute_key,
        }

    @app.post("/score")
    async def score(body: ScoreRequest, request: Request) -> JSONResponse:
        return _answer(request.app.state, from_payload(request.app.state.table, body.attributes), explain=body.explain)

    @app.post("/predict")
    async def predict(body: PredictRequest, request: Request) -> JSONResponse:
        state = request.app.state
        signals = await _signals_attributes(state, body.domain_userid)
        # A prospect Signals has not seen gets no value in any attribute: scored as one with no history
        # (every input at its default), as Snowplow's own endpoint does, instead of refusing a new visitor.
        known = any(signals.get(item.attribute) is not None for item in state.table if item.source == "signals")
        row = from_signals(state.table, signals)
        read = {item.attribute: row[item.name] for item in state.table if item.source == "signals"}
        return _answer(state, row, {state.attribute_key: body.domain_userid, **read}, explain=body.explain, known=known)

    return app


async def _signals_attributes(state: Any, identifier: str) -> dict[str, Any]:
    if state.signals is None:
        raise SignalsUnavailable(
            f"Signals is not configured: set {' and '.join(SANDBOX_VARIABLES)}, or {', '.join(API_VARIABLES)}"
        )
    if not state.service:
        raise SignalsUnavailable("no Signals service name: set SIGNALS_SERVICE_NAME or add the definitions file")
    call = partial(_fetch_attributes, state.signals, state.service, state.attribute_key, identifier)
    try:
        future = asyncio.get_running_loop().run_in_executor(state.executor, call)
        signals = await asyncio.wait_for(future, timeout=state.timeout)
    except asyncio.TimeoutError:
        log.warning("Signals did not answer within %g s", state.timeout)
        raise SignalsUnavailable(f"Signals did not answer within {state.timeout:g} s; try again later") from None
    except Exception as error:  # the SDK raises httpx, SignalsAPIError and pydantic errors alike
        message = _signals_failure(error)
        log.warning("%s", message)
        raise SignalsUnavailable(message + "; try again later") from None
    if not isinstance(signals, dict):
        raise SignalsUnavailable("Signals answered with something other than attributes")
    return signals


def _answer(state: Any, row: dict[str, Any], signals: dict[str, Any] | None = None, *, explain: bool,
            known: bool | None = None) -> JSONResponse:
    score, explained = state.scorer.score(row, explain)
    body = {"signals": signals, "scoring_attributes": row, "explanations": explained, "score": score,
            "flagged": score >= state.threshold}
    if known is not None:
        body["known"] = known
    return JSONResponse(body)


def service_workers() -> int:
    """Worker processes: `WEB_CONCURRENCY` if set (uvicorn reads it too), else the cores this process may use.

    One request is one thread of numpy and XGBoost work (nthread 1), so a core a worker serves as many
    requests at once as the machine can; more workers only queue behind each other."""
    text = os.environ.get(WORKERS_VARIABLE)
    if text:
        if not text.isdigit() or not 1 <= int(text) <= 256:
            raise StartupError(f"{WORKERS_VARIABLE} must be a whole number from 1 to 256, got {text[:40]!r}")
        return int(text)
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(cores))


def main(argv: list[str] | None = None) -> None:
    """`python service.py [--host H] [--port P]`: uvicorn with `service_workers()` worker processes."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="Prospect scoring service (uvicorn, one worker a core)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        workers = service_workers()
    except StartupError as error:
        log.critical("refusing to start: %s", error)
        raise SystemExit(2) from None
    os.chdir(HERE)  # the workers import `service` from this folder
    uvicorn.run("service:app", host=args.host, port=args.port, workers=workers, app_dir=str(HERE))


app = create_app()

if __name__ == "__main__":
    main()
