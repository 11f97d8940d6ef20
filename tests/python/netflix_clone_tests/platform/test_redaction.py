from __future__ import annotations

import io
import logging

from netflix_clone.platform.redaction import Redactor, redact_url


def test_redacts_values_and_webhook_paths() -> None:
    hook = "https://hooks.slack.com/services/T000/B000/abcdefSECRET123"  # pragma: allowlist secret
    r = Redactor([hook, "short", None])
    assert r.redact(f"posting to {hook}") == "posting to ***"
    # The secret part of a webhook leaks through its path too (e.g. in a proxy log line).
    assert "abcdefSECRET123" not in r.redact("POST /services/T000/B000/abcdefSECRET123 HTTP/1.1")
    assert r.redact("short stays") == "short stays"  # too short to be a secret worth a false match
    assert r.redact_obj({"a": [hook, 1], "b": {"c": hook}}) == {"a": ["***", 1], "b": {"c": "***"}}


def test_passwords_in_urls_and_dsns() -> None:
    # pragma: allowlist nextline secret
    assert redact_url("postgresql://app:hunter2@db:5432/app") == "postgresql://app:***@db:5432/app"
    assert redact_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("host=db password=hunter2 dbname=app") == "host=db password=*** dbname=app"
    assert redact_url("http://example.org/path") == "http://example.org/path"


def test_logging_filter_covers_third_party_loggers() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("httpx.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    handler.addFilter(Redactor(["tok_0123456789"]))
    logger.info("HTTP Request: POST https://x/%s", "tok_0123456789")
    assert "tok_0123456789" not in stream.getvalue() and "***" in stream.getvalue()
