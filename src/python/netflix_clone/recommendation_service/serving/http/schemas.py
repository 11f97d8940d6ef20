"""What the HTTP API accepts and answers: request and response models, the input limits, and the
rendering of client input in error messages.

The bounds are part of the contract (OpenAPI shows them): at most 500 titles per list, 10,000 ids per
batch, 50,000 exclusions in a POST body, ids of 1-256 characters.

    >>> short("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'…"
    >>> RecommendationsRequest.model_validate({"n": 3.0}).n
    3
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "COMMON_ERRORS",
    "ECHO_PREFIX",
    "MAX_BATCH",
    "MAX_EXCLUDE",
    "MAX_GET_EXCLUDE",
    "MAX_ID_LENGTH",
    "MAX_N",
    "NOT_FOUND",
    "ErrorDetail",
    "Health",
    "ModelInfo",
    "PairScoresResponse",
    "PairsRequest",
    "Readiness",
    "RecommendationsRequest",
    "RecommendationsResponse",
    "ScoreRequest",
    "ScoreResponse",
    "ScoredItem",
    "ScoresResponse",
    "SimilarResponse",
    "ValidationErrorResponse",
    "ValidationIssue",
    "short",
]

MAX_N = 500
MAX_BATCH = 10_000
MAX_EXCLUDE = 50_000
MAX_GET_EXCLUDE = 16  # longer lists go in the POST body (a URL stays under 64 KiB)
MAX_ID_LENGTH = 256
ECHO_PREFIX = 48

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


def _json_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    return float(value)


def _json_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_int)]
JsonNumber = Annotated[float, BeforeValidator(_json_number)]
JsonBool = Annotated[bool, BeforeValidator(_json_bool)]


def short(value: Any) -> str:
    """A bounded, printable rendering of client input for error messages."""
    text = value if isinstance(value, str) else repr(value)
    clipped = text[:ECHO_PREFIX]
    return repr(clipped) + ("…" if len(text) > ECHO_PREFIX else "")


# ---- schemas -------------------------------------------------------------------------------------


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: Id
    items: list[Id] = Field(min_length=1, max_length=MAX_BATCH)


class PairsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: list[tuple[Id, Id]] = Field(min_length=1, max_length=MAX_BATCH)


class RecommendationsRequest(BaseModel):
    """The POST form of the top-N route, for exclusion lists too long for a URL."""

    model_config = ConfigDict(extra="forbid")
    # JSON types as the schema says: false is not a number, "3" not an integer, 3.0 is one.
    n: JsonInt = Field(10, ge=1, le=MAX_N)
    exclude_seen: JsonBool = True
    exclude: list[Id] = Field(default_factory=list, max_length=MAX_EXCLUDE)
    diversity: JsonNumber = Field(0.0, ge=0.0, le=1.0)


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="ready, degraded (serving, Redis cache unavailable), not ready")
    model_version: Optional[str] = None
    model_uri: str
    cache: str = Field(description="disabled, ok, or unavailable: <reason>")
    reload_error: Optional[str] = Field(
        None, description="why CURRENT's version is not served (only while it is the case)"
    )
    error: Optional[str] = None


class ScoreResponse(BaseModel):
    user: str
    item: str
    score: float
    model_version: str


class ScoresResponse(BaseModel):
    user: str
    scores: dict[str, float]
    model_version: str


class PairScoresResponse(BaseModel):
    scores: list[float]
    model_version: str


class ScoredItem(BaseModel):
    item: str
    score: float


class RecommendationsResponse(BaseModel):
    user: str
    items: list[ScoredItem]
    strategy: str
    model_version: str
    cached: bool


class SimilarResponse(BaseModel):
    items: list[ScoredItem]
    strategy: str
    model_version: str


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: str


class ErrorDetail(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[Any]
    msg: str
    type: str
    input: Optional[str] = Field(None, description="a short prefix of the offending input")


class ValidationErrorResponse(BaseModel):
    detail: list[ValidationIssue]


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "malformed request (body not JSON text)"},
    413: {"model": ErrorDetail, "description": "request body above the limit"},
    414: {"model": ErrorDetail, "description": "request line too long"},
    422: {"model": ValidationErrorResponse, "description": "invalid input"},
    503: {"model": ErrorDetail, "description": "no model loaded yet"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "unknown user or title"}}
