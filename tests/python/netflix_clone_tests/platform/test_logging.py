from __future__ import annotations

import io
import json
import logging

from netflix_clone.platform.logging import configure_logging


def test_json_lines_carry_level_service_message_and_extra_fields() -> None:
    stream = io.StringIO()
    configure_logging("unit-svc", level="debug", stream=stream)
    log = logging.getLogger("x.y")
    log.info("processed %d events", 3, extra={"batch": 7})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "processed 3 events"
    assert first["level"] == "info"
    assert first["service"] == "unit-svc"
    assert first["logger"] == "x.y"
    assert first["batch"] == 7
    assert first["ts"].endswith("Z")
    assert second["level"] == "error"
    assert "ValueError: boom" in second["exc"]


def test_plain_text_mode() -> None:
    stream = io.StringIO()
    configure_logging("unit-svc", json_format=False, stream=stream)
    logging.getLogger("plain").warning("hello")
    assert "WARNING plain: hello" in stream.getvalue()
