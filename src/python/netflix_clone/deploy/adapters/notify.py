"""Slack (incoming webhook) and Grafana (dashboards, annotations) over HTTP, with bounded retries."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import httpx

from netflix_clone.deploy.errors import NotifyError
from netflix_clone.platform.retry import RetryExhausted, retry_call

__all__ = ["GrafanaClient", "NotifyError", "SlackNotifier", "check_url"]

log = logging.getLogger("netflix_clone.deploy.notify")


def check_url(url: str, what: str) -> None:
    """Raise ValueError (never echoing the URL: a webhook's path is its secret) unless ``url`` is an
    absolute http(s) URL httpx can send to."""
    try:
        parsed = httpx.URL(url)
    except Exception:  # pylint: disable=broad-except  # any parse failure is the same answer
        raise ValueError(f"{what} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host or any(c in url for c in "\r\n\t "):
        raise ValueError(f"{what} must be an absolute http(s) URL without whitespace")


class SlackNotifier:
    """Posts to an incoming webhook; honours 429 Retry-After and retries 5xx, then gives up loudly."""

    def __init__(
        self,
        webhook: str,
        attempts: int = 5,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_s: float = 30.0,
    ) -> None:
        self.webhook = webhook
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.max_wait_s = max_wait_s

    def send(self, text: str, color: str = "good", fields: Optional[dict[str, str]] = None) -> int:
        """Returns how many attempts it took; raises NotifyError when Slack never accepted it."""
        payload = {
            "text": text,
            "attachments": [
                {
                    "color": color,
                    "fields": [{"title": k, "value": v, "short": len(v) < 40} for k, v in (fields or {}).items()],
                }
            ],
        }
        attempts = 0

        def post() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            try:
                return httpx.post(self.webhook, json=payload, timeout=self.timeout_s)
            except httpx.HTTPError:
                raise
            except Exception as exc:  # pylint: disable=broad-except  # InvalidURL &c.: retrying won't help
                raise NotifyError(f"Slack webhook unusable: {type(exc).__name__}") from None

        try:
            response = retry_call(
                post,
                what="Slack notification",
                attempts=self.attempts,
                base_delay=1.0,
                max_delay=self.max_wait_s,
                jitter=False,
                retry_on=(httpx.HTTPError,),
                # 429 and 5xx are Slack's "later"; any other 4xx is a bad webhook or payload.
                retry_result=lambda r: r.status_code == 429 or r.status_code >= 500,
                wait_for=lambda r: float(r.headers.get("Retry-After", "1") or 1) if r.status_code == 429 else None,
                sleep=self.sleep,
            )
        except RetryExhausted as exc:
            raise NotifyError(f"Slack did not accept the notification: {type(exc.last).__name__}: {exc.last}") from None
        if response.status_code < 300:
            return attempts
        last = f"HTTP {response.status_code}: {response.text[:200]}"
        raise NotifyError(f"Slack did not accept the notification: {last}")


class GrafanaClient:
    def __init__(self, url: str, api_key: str, timeout_s: float = 10.0) -> None:
        self.client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise NotifyError(f"Grafana {method} {path}: {type(exc).__name__}: {exc}") from None

    def upsert_dashboard(
        self, dashboard: dict[str, Any], folder_uid: Optional[str] = None, message: str = ""
    ) -> dict[str, Any]:
        """Create or update by uid. A version conflict (someone saved meanwhile) is resolved by
        re-reading the current version and saving ours over it, once; the repo's JSON is the source.
        """
        body: dict[str, Any] = {
            "dashboard": {**dashboard, "id": None},
            "overwrite": False,
            "message": message,
        }
        if folder_uid:
            body["folderUid"] = folder_uid
        for _ in range(2):
            response = self._call("POST", "/api/dashboards/db", json=body)
            if response.status_code == 200:
                result: dict[str, Any] = response.json()
                return result
            if response.status_code == 412:
                uid = dashboard.get("uid")
                current = self._call("GET", f"/api/dashboards/uid/{uid}")
                if current.status_code == 200:
                    body["dashboard"]["version"] = current.json()["dashboard"].get("version")
                    continue
                body["overwrite"] = True  # same title, different uid: ours replaces it
                continue
            raise NotifyError(
                f"Grafana refused dashboard {dashboard.get('uid')}: HTTP {response.status_code} {response.text[:200]}"
            )
        raise NotifyError(f"Grafana dashboard {dashboard.get('uid')} kept conflicting")

    def upsert_directory(self, directory: Path, message: str) -> list[str]:
        done = []
        for path in sorted(directory.glob("*.json")):
            dashboard = json.loads(path.read_text(encoding="utf-8"))
            self.upsert_dashboard(dashboard.get("dashboard", dashboard), message=message)
            done.append(path.name)
        return done

    def annotate(self, text: str, tags: list[str], at_ms: Optional[int] = None) -> int:
        body: dict[str, Any] = {"text": text, "tags": tags}
        if at_ms is not None:
            body["time"] = at_ms
        response = self._call("POST", "/api/annotations", json=body)
        if response.status_code != 200:
            raise NotifyError(f"Grafana annotation failed: HTTP {response.status_code} {response.text[:200]}")
        return int(response.json().get("id", 0))
