"""GitHub's branch-protection endpoints (REST API version 2022-11-28) over httpx.

``GET /repos/{owner}/{repo}/branches/{branch}/protection`` answers 200 with the protection, or 404 with
``{"message": "Branch not protected"}`` (also 404 ``"Branch not found"``/``"Not Found"`` for a missing
branch or a repository the token cannot see). ``PUT`` on the same path replaces the protection and answers
200 with the new one; 422 ``Validation Failed``/``Invalid request`` for a body it rejects; 403 when the
token lacks administration rights ("Resource not accessible by integration": the GITHUB_TOKEN of an
Actions run can never administer a repository). The token travels only in the Authorization header; it is
never logged, printed or put into an error message.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional
from urllib.parse import quote

import httpx

from netflix_clone.platform.retry import RetryExhausted, retry_call
from netflix_clone.release.errors import GitHubError

__all__ = ["GitHubError", "GitHub", "API_VERSION"]

API_VERSION = "2022-11-28"


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class GitHub:
    def __init__(
        self,
        token: str,
        api_url: str = "https://api.github.com",
        timeout_s: float = 30.0,
        attempts: int = 3,
        transport: Optional[httpx.BaseTransport] = None,
        sleep: Optional[Callable[[float], None]] = None,
    ) -> None:
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "netflix-clone-repo-settings",
                "Authorization": f"Bearer {token}",
            },
        )
        self.attempts = attempts
        self._sleep = sleep if sleep is not None else _sleep
        # httpx logs request lines at INFO; keep them (never headers) out of the tool's output.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    def __repr__(self) -> str:
        return f"GitHub({self._client.base_url!s}, token=***)"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "GitHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def protection_path(owner: str, repo: str, branch: str) -> str:
        return f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}" f"/branches/{quote(branch, safe='')}/protection"

    def _request(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> httpx.Response:
        """One API call; connection errors, 5xx and rate limits are retried (Retry-After honoured)."""

        def again(response: httpx.Response) -> bool:
            limited = response.status_code in (403, 429) and (
                response.headers.get("Retry-After") is not None or response.headers.get("X-RateLimit-Remaining") == "0"
            )
            return response.status_code >= 500 or limited

        def retry_after(response: httpx.Response) -> Optional[float]:
            value = response.headers.get("Retry-After")
            return float(value) if value and value.isdigit() else None

        try:
            return retry_call(
                lambda: self._client.request(method, path, json=body),
                what=f"GitHub {method} {path}",
                attempts=self.attempts,
                base_delay=1.0,
                max_delay=60.0,
                jitter=False,
                retry_on=(httpx.TransportError,),
                retry_result=again,
                wait_for=retry_after,
                sleep=self._sleep,
            )
        except RetryExhausted as exc:
            raise GitHubError(
                method, path, 0, f"no answer from {self._client.base_url}: {type(exc.last).__name__}"
            ) from None

    @staticmethod
    def _error(method: str, path: str, response: httpx.Response) -> GitHubError:
        try:
            data = response.json()
        except ValueError:
            data = {}
        message = str(data.get("message") or response.reason_phrase) if isinstance(data, dict) else ""
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors:
            message += f" {errors}"
        docs = str(data.get("documentation_url", "")) if isinstance(data, dict) else ""
        return GitHubError(method, path, response.status_code, message, docs)

    def get_protection(self, owner: str, repo: str, branch: str) -> Optional[dict[str, Any]]:
        """The branch's protection as GET returns it; None when the branch is not protected."""
        path = self.protection_path(owner, repo, branch)
        response = self._request("GET", path)
        if response.status_code == 404:
            error = self._error("GET", path, response)
            if error.message.strip().lower() == "branch not protected":
                return None
            raise error
        if response.status_code != 200:
            raise self._error("GET", path, response)
        data = response.json()
        if not isinstance(data, dict):
            raise GitHubError("GET", path, response.status_code, "answer is not a JSON object")
        return data

    def put_protection(self, owner: str, repo: str, branch: str, body: dict[str, Any]) -> dict[str, Any]:
        path = self.protection_path(owner, repo, branch)
        response = self._request("PUT", path, body)
        if response.status_code != 200:
            raise self._error("PUT", path, response)
        data = response.json()
        if not isinstance(data, dict):
            raise GitHubError("PUT", path, response.status_code, "answer is not a JSON object")
        return data
