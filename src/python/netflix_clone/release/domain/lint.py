"""Commit-message rules for pull requests, each failure with a reason a person can act on.

A message passes when its header is ``type(scope)!: description`` with a known lower-case type, a
non-empty scope when there are parentheses, one space after the colon, a description that does not end
with a period, at most ``max_header`` characters; a blank line separates header and body; a breaking-change
footer is spelled ``BREAKING CHANGE:``/``BREAKING-CHANGE:`` and says what breaks. Git's own revert headers
(``Revert "..."``) pass. Merge commits are skipped (their parents are checked); ``fixup!``/``squash!``/
``amend!`` commits fail: squash them before merging.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Collection, Optional

from netflix_clone.release.domain.commits import BREAKING_TOKENS, HEADER_RE, TYPES, RawCommit

__all__ = ["DEFAULT_TYPES", "LintResult", "lint_message", "lint_commit"]

DEFAULT_TYPES = TYPES
_LOOSE_HEADER_RE = re.compile(r"^(?P<type>[^\s():!]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:(?P<rest>.*)$")
_AUTOSQUASH_RE = re.compile(r"^(fixup|squash|amend)! ")
_GIT_REVERT_RE = re.compile(r'^(Revert|Reapply) ".+"$')
_WRONG_BREAKING_RE = re.compile(r"^(breaking[ _-]changes?)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class LintResult:
    sha: str
    header: str
    errors: tuple[str, ...]
    skipped: Optional[str] = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        return {
            "sha": self.sha,
            "header": self.header,
            "ok": self.ok,
            "errors": list(self.errors),
            "skipped": self.skipped,
        }


def _header_errors(header: str, types: Collection[str], scopes: Optional[Collection[str]]) -> list[str]:
    if _GIT_REVERT_RE.match(header):
        return []
    loose = _LOOSE_HEADER_RE.match(header)
    if not loose:
        return [
            f"header is not `type(scope): description` (types: {', '.join(types)}), "
            f"e.g. `fix(analytics-consumer): drop events without a session id`"
        ]
    errors = []
    type_ = loose.group("type")
    if type_ != type_.lower():
        errors.append(f"type `{type_}` must be lower case (`{type_.lower()}`)")
    if type_.lower() not in types:
        close = difflib.get_close_matches(type_.lower(), types, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        errors.append(f"unknown type `{type_}`{hint}; use one of {', '.join(types)}")
    scope = loose.group("scope")
    if scope is not None:
        if not scope.strip():
            errors.append("empty scope `()`: name the scope or drop the parentheses")
        elif scope != scope.strip() or re.search(r"\s", scope):
            errors.append(f"scope `{scope}` must not contain spaces")
        elif scopes is not None and scope not in scopes:
            errors.append(f"unknown scope `{scope}`; use one of {', '.join(sorted(scopes))}")
    rest = loose.group("rest")
    if not rest.startswith(" ") or rest.startswith("  "):
        errors.append("put exactly one space after the colon")
    description = rest.strip()
    if not description:
        errors.append("the description after the colon is empty")
    elif description.endswith("."):
        errors.append("the description must not end with a period")
    if not errors and not HEADER_RE.match(header):
        errors.append("header is not `type(scope)!: description`")
    return errors


def lint_message(
    message: str,
    sha: str = "",
    types: Collection[str] = DEFAULT_TYPES,
    scopes: Optional[Collection[str]] = None,
    max_header: int = 100,
) -> LintResult:
    """Check one commit message (or a pull-request title, which becomes the squash commit's header)."""
    text = message.replace("\r\n", "\n").strip("\n")
    lines = text.split("\n")
    header = lines[0].strip() if lines else ""
    if _AUTOSQUASH_RE.match(header):
        return LintResult(
            sha,
            header,
            ("autosquash commit: run `git rebase -i --autosquash` before merging",),
        )
    errors = _header_errors(header, types, scopes)
    if len(header) > max_header:
        errors.append(f"header is {len(header)} characters; keep it to {max_header}")
    if len(lines) > 1 and lines[1].strip():
        errors.append("leave a blank line between the header and the body")
    for line in lines[1:]:
        line = line.rstrip()
        match = _WRONG_BREAKING_RE.match(line)
        if not match:
            continue
        token, rest = match.group(1), line[match.end() :]
        if token not in BREAKING_TOKENS:
            errors.append(f"`{token}:` is not recognised: write `BREAKING CHANGE:` (upper case)")
        elif not rest.strip():
            errors.append(f"`{token}:` needs a description of what breaks")
        elif not line.startswith(f"{token}: ") or rest.startswith("  "):
            errors.append(f"put exactly one space after `{token}:`")
    return LintResult(sha, header, tuple(errors))


def lint_commit(
    commit: RawCommit,
    types: Collection[str] = DEFAULT_TYPES,
    scopes: Optional[Collection[str]] = None,
    max_header: int = 100,
) -> LintResult:
    if commit.is_merge:
        header = commit.message.strip().split("\n", 1)[0]
        return LintResult(commit.sha, header, (), skipped="merge commit (its parents are checked)")
    return lint_message(commit.message, commit.sha, types, scopes, max_header)
