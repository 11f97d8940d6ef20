from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netflix_clone.contracts.player_events import (
    End,
    EventError,
    Heartbeat,
    PlayerEvent,
    PlayRequest,
    StallStart,
    decode_event,
    encode_event,
)

BASE = {"v": 1, "sid": "s1", "seq": 0, "ts": 1000}


def test_every_event_type_round_trips() -> None:
    events: list[PlayerEvent] = [
        PlayRequest(v=1, sid="s", seq=0, ts=1, user_id="u", cid="t", device="tv", country="BR", cdn="a"),
        StallStart(v=1, sid="s", seq=1, ts=2, cause="seek"),
        Heartbeat(v=1, sid="s", seq=2, ts=3, pos_ms=10, bl=4000, mtp=5000),
        End(v=1, sid="s", seq=3, ts=4),
    ]
    for event in events:
        assert decode_event(encode_event(event)) == event
    assert json.loads(encode_event(events[2]))["type"] == "heartbeat"


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "malformed_json"),
        (b"", "malformed_json"),
        (json.dumps({**BASE, "type": "teleport"}).encode(), "invalid_event"),
        (json.dumps({**BASE, "type": "heartbeat"}).encode(), "invalid_event"),  # pos_ms missing
        (json.dumps({**BASE, "type": "stall_start", "cause": "solar"}).encode(), "invalid_event"),
        (json.dumps({**BASE, "type": "end", "v": 2}).encode(), "unsupported_version"),
        (
            json.dumps({**BASE, "type": "end", "v": 7, "new_field": 1}).encode(),
            "unsupported_version",
        ),
        (json.dumps({**BASE, "type": "end", "seq": -1}).encode(), "invalid_event"),
        (json.dumps({**BASE, "type": "end", "sid": ""}).encode(), "invalid_event"),
        (b"[1, 2, 3]", "invalid_event"),
    ],
)
def test_bad_payloads_get_a_stable_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(EventError) as info:
        decode_event(payload)
    assert info.value.reason == reason
    assert info.value.detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_fuzz_no_payload_raises_anything_but_event_error(payload: bytes) -> None:
    try:
        decode_event(payload)
    except EventError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["v", "sid", "seq", "ts", "type", "pos_ms", "cause", "br", "fatal", "code"]),
        st.one_of(st.integers(-5, 10**15), st.text(max_size=10), st.booleans(), st.none(), st.floats()),
    )
)
def test_fuzz_structured_payloads(fields: dict) -> None:
    try:
        decode_event(json.dumps(fields).encode())
    except EventError:
        pass
