"""Player events, version 1: what players send and analytics-consumer reads.

Field names follow CMCD (CTA-5004) where one exists: `sid` session id, `cid` content (title) id, `br`
encoded bitrate in kbps, `bl` buffer length in ms, `mtp` measured throughput in kbps. Every event carries
`v` (schema version), `sid`, `seq` (per-session sequence number, from 0) and `ts` (client time, epoch ms).
play_request additionally carries the session context (user, profile, title, device, country, CDN).
"""

from __future__ import annotations

from typing import Literal, Optional, Union

import msgspec

__all__ = [
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
NonNegative = msgspec.Meta(ge=0)


class _Event(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=False
):
    v: int
    sid: str = msgspec.field()
    seq: int
    ts: int  # epoch milliseconds on the client


class PlayRequest(_Event, frozen=True, tag="play_request"):
    user_id: str
    cid: str
    device: str
    country: str
    cdn: str
    profile_id: Optional[str] = None
    duration_s: Optional[float] = None  # title duration, for completion


class FirstFrame(_Event, frozen=True, tag="first_frame"):
    pass


class StallStart(_Event, frozen=True, tag="stall_start"):
    cause: Literal["network", "seek"] = "network"


class StallEnd(_Event, frozen=True, tag="stall_end"):
    pass


class RenditionChange(_Event, frozen=True, tag="rendition_change"):
    br: int  # kbps
    width: int
    height: int


class Heartbeat(_Event, frozen=True, tag="heartbeat"):
    pos_ms: int
    bl: Optional[int] = None  # buffer length, ms
    mtp: Optional[int] = None  # measured throughput, kbps
    dropped_frames: int = 0


class Error(_Event, frozen=True, tag="error"):
    code: str
    fatal: bool
    category: Literal["business", "technical"] = "technical"


class Pause(_Event, frozen=True, tag="pause"):
    pass


class Resume(_Event, frozen=True, tag="resume"):
    pass


class Seek(_Event, frozen=True, tag="seek"):
    from_ms: int
    to_ms: int


class End(_Event, frozen=True, tag="end"):
    pos_ms: Optional[int] = None


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
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


_decoder: msgspec.json.Decoder[PlayerEvent] = msgspec.json.Decoder(PlayerEvent)
_version_probe = msgspec.json.Decoder(dict)
_encoder = msgspec.json.Encoder()


def decode_event(raw: bytes) -> PlayerEvent:
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        # An unknown version is its own reason: such events may be valid for a newer consumer.
        try:
            version = _version_probe.decode(raw).get("v")
        except (msgspec.DecodeError, AttributeError):
            version = None
        if isinstance(version, int) and version != SCHEMA_VERSION:
            raise EventError(
                "unsupported_version", f"schema version {version}, this consumer reads 1"
            ) from exc
        raise EventError("invalid_event", str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise EventError("malformed_json", str(exc)) from exc
    if event.v != SCHEMA_VERSION:
        raise EventError("unsupported_version", f"schema version {event.v}, this consumer reads 1")
    if event.seq < 0 or event.ts < 0 or not event.sid:
        raise EventError("invalid_event", "sid must be non-empty, seq and ts non-negative")
    return event


def encode_event(event: PlayerEvent) -> bytes:
    return _encoder.encode(event)
