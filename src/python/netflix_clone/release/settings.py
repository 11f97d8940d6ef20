"""The environment the release tools read: GitHub's own variables (names GitHub sets; not ours to prefix)."""

from __future__ import annotations

from typing import Optional

from netflix_clone.platform.settings import ServiceSettings, SettingsConfigDict, shared

__all__ = ["ReleaseSettings"]


class ReleaseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NFC_RELEASE_")

    github_actions: bool = shared("GITHUB_ACTIONS", False, "set by GitHub Actions: failures become annotations")
    github_token: Optional[str] = shared(
        "GITHUB_TOKEN", None, "repo-settings: a token with administration rights (secret; never printed)"
    )
    gh_token: Optional[str] = shared("GH_TOKEN", None, "repo-settings: used when GITHUB_TOKEN is unset")
    github_repository: Optional[str] = shared("GITHUB_REPOSITORY", None, "repo-settings: default --repo (OWNER/NAME)")
    github_api_url: str = shared("GITHUB_API_URL", "https://api.github.com", "repo-settings: default --api-url")
