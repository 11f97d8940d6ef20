"""Player events, version 1: what players send and analytics-consumer reads.

Field names follow CMCD (CTA-5004) where one exists: `sid` session id, `cid` content (title) id, `br`
encoded bitrate in kbps, `bl` buffer length in ms, `mtp` measured throughput in kbps. Every event carries
`v` (schema version), `sid`, `seq` (per-session sequence number, from 0) and `ts` (client time, epoch ms).
play_request additionally carries the session context (user, profile, title, device, country, CDN).

Limits (a payload outside them is rejected with a stable reason, never stored):

* the payload is at most ``MAX_PAYLOAD_BYTES``; nesting deeper than the parser's recursion limit,
  even inside an unknown field, is ``too_nested`` (an event is one flat object);
* ids (`sid`, `user_id`, `cid`, `profile_id`) are 1-128 characters, other strings 1-64, none with a
  control character (NUL included);
* integers are non-negative and bounded: `seq` < 2**31, `ts` < 2**48 ms (year 10889), positions and
  durations < 2**40 ms, `br` <= 10**7 kbps, `width`/`height` <= 16384; `duration_s` is finite, > 0;
* unknown fields are accepted (a newer player may send more) within the limits above.

Reasons: payload_too_large, too_nested, malformed_json, invalid_utf8, invalid_event, unsupported_version.

    >>> decode_event(b'{"v":1,"type":"end","sid":"s\\u0000","seq":0,"ts":1}')
    Traceback (most recent call last):
    ...
    netflix_clone.contracts.player_events.EventError: invalid_event: control character in `$.sid`
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional, Union

import msgspec

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "SCHEMA_VERSION",
    "EventError",
    "PlayerEvent",
    "decode_event",
    "encode_event",
    "End",
    "Error",
    "FirstFrame",
    "Heartbeat",
    "Pause",
    "PlayRequest",
    "RenditionChange",
    "Resume",
    "Seek",
    "StallEnd",
    "StallStart",
]

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 8192

# Control characters are checked after decoding (see decode_event): JSON only carries them escaped,
# so the check runs only for payloads with an escape - a regex on every field would double the cost.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Seq = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]
EpochMs = Annotated[int, msgspec.Meta(ge=0, lt=2**48)]
Millis = Annotated[int, msgspec.Meta(ge=0, lt=2**40)]
Kbps = Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]
Pixels = Annotated[int, msgspec.Meta(ge=0, le=16_384)]
Count = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=10_000_000)]


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=False):
    v: int
    sid: Id
    seq: Seq
    ts: EpochMs  # epoch milliseconds on the client


class PlayRequest(_Event, frozen=True, tag="play_request"):
    user_id: Id
    cid: Id
    device: Label
    country: Label
    cdn: Label
    profile_id: Optional[Id] = None
    duration_s: Optional[Seconds] = None  # title duration, for completion


class FirstFrame(_Event, frozen=True, tag="first_frame"):
    pass


class StallStart(_Event, frozen=True, tag="stall_start"):
    cause: Literal["network", "seek"] = "network"


class StallEnd(_Event, frozen=True, tag="stall_end"):
    pass


class RenditionChange(_Event, frozen=True, tag="rendition_change"):
    br: Kbps
    width: Pixels
    height: Pixels


class Heartbeat(_Event, frozen=True, tag="heartbeat"):
    pos_ms: Millis
    bl: Optional[Millis] = None  # buffer length, ms
    mtp: Optional[Kbps] = None  # measured throughput, kbps
    dropped_frames: Count = 0


class Error(_Event, frozen=True, tag="error"):
    code: Label
    fatal: bool
    category: Literal["business", "technical"] = "technical"


class Pause(_Event, frozen=True, tag="pause"):
    pass


class Resume(_Event, frozen=True, tag="resume"):
    pass


class Seek(_Event, frozen=True, tag="seek"):
    from_ms: Millis
    to_ms: Millis


class End(_Event, frozen=True, tag="end"):
    pos_ms: Optional[Millis] = None


PlayerEvent = Union[
    PlayRequest,
    FirstFrame,
    StallStart,
    StallEnd,
    RenditionChange,
    Heartbeat,
    Error,
    Pause,
    Resume,
    Seek,
    End,
]


class EventError(ValueError):
    """A payload that is not a valid v1 player event; `reason` is short and stable (for dead letters)."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail[:500]
        super().__init__(f"{reason}: {self.detail}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_decoder: msgspec.json.Decoder[PlayerEvent] = msgspec.json.Decoder(PlayerEvent)
_version_probe = msgspec.json.Decoder(dict)
_encoder = msgspec.json.Encoder()


def _version_of(raw: bytes) -> object:
    try:
        return _version_probe.decode(raw).get("v")
    except (msgspec.DecodeError, AttributeError, RecursionError, UnicodeDecodeError, ValueError):
        return None


def decode_event(raw: bytes) -> PlayerEvent:
    """One payload -> one event, or EventError with a stable reason; no other exception escapes."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise EventError("payload_too_large", f"{len(raw)} bytes (limit {MAX_PAYLOAD_BYTES})")
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        # An unknown version is its own reason: such events may be valid for a newer consumer.
        version = _version_of(raw)
        if isinstance(version, int) and version != SCHEMA_VERSION:
            raise EventError("unsupported_version", f"schema version {version}, this consumer reads 1") from None
        raise EventError("invalid_event", str(exc)) from None
    except msgspec.DecodeError as exc:
        reason = "invalid_utf8" if "UTF-8" in str(exc) else "malformed_json"
        raise EventError(reason, str(exc)) from None
    except UnicodeDecodeError as exc:
        raise EventError("invalid_utf8", str(exc)) from None
    except RecursionError:
        raise EventError("too_nested", "nesting too deep to parse") from None
    except Exception as exc:  # pylint: disable=broad-except  # the decoder's promise: EventError only
        raise EventError("malformed_json", f"{type(exc).__name__}: {exc}") from None
    if event.v != SCHEMA_VERSION:
        raise EventError("unsupported_version", f"schema version {event.v}, this consumer reads 1")
    if b"\\u" in raw:
        for name, value in zip(event.__struct_fields__, msgspec.structs.astuple(event)):
            if isinstance(value, str) and _CONTROL.search(value):
                raise EventError("invalid_event", f"control character in `$.{name}`")
    return event


def encode_event(event: PlayerEvent) -> bytes:
    return _encoder.encode(event)
