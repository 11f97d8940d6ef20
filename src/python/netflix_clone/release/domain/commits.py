"""Conventional Commits 1.0.0 (https://www.conventionalcommits.org/en/v1.0.0/) parsed from raw messages.

A header is ``type(scope)!: description``: the scope and the ``!`` are optional, the colon is followed by
one space. Footers are the trailing paragraphs whose first line is ``Token: value`` or ``Token #value``
(tokens use ``-`` for spaces, except ``BREAKING CHANGE``); a value runs until the next token. A commit is
breaking when its header has ``!`` or a footer is ``BREAKING CHANGE:``/``BREAKING-CHANGE:`` (upper case, as
the specification requires). A ``BREAKING CHANGE:`` paragraph is recognised in the body too, where people
often put it before other footers.

Reverts come in two spellings, both understood: git's own (``Revert "feat: x"`` with ``This reverts commit
<sha>.`` in the body, and ``Reapply "..."`` for a revert of a revert) and the Conventional one
(``revert: feat: x`` with ``Refs: <sha>`` or git's sentence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Collection, Optional

__all__ = [
    "Footer",
    "Commit",
    "RawCommit",
    "HEADER_RE",
    "FOOTER_RE",
    "BREAKING_TOKENS",
    "TYPES",
    "parse_commit",
    "parse_header",
    "split_message",
]

HEADER_RE = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: (?P<description>.*)$"
)
FOOTER_RE = re.compile(r"^(?P<token>BREAKING CHANGE|BREAKING-CHANGE|[A-Za-z][A-Za-z0-9-]*)(?:: | #)(?P<value>.*)$")
BREAKING_TOKENS = ("BREAKING CHANGE", "BREAKING-CHANGE")
# The types this repository uses (those of @commitlint/config-conventional). A header with another
# "type" (`README: ...`, `analytics-consumer: ...`) is not counted as a Conventional Commit.
TYPES = (
    "feat",
    "fix",
    "perf",
    "revert",
    "refactor",
    "docs",
    "test",
    "build",
    "ci",
    "chore",
    "style",
)
_GIT_REVERT_RE = re.compile(r'^(?P<verb>Revert|Reapply) "(?P<inner>.*)"$')
_REVERTS_SHA_RE = re.compile(r"This reverts commit (?P<sha>[0-9a-fA-F]{7,40})")
_SHA_RE = re.compile(r"\b[0-9a-fA-F]{7,40}\b")


@dataclass(frozen=True)
class RawCommit:
    """What git knows about a commit: its id, parents, full message and the paths it changed."""

    sha: str
    message: str
    parents: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class Footer:
    token: str
    value: str


@dataclass(frozen=True)
class Commit:
    """A parsed commit. ``type`` is None when the header is not a Conventional Commit header."""

    raw: RawCommit
    header: str
    body: str
    type: Optional[str]
    scope: Optional[str]
    description: str
    bang: bool = False
    footers: tuple[Footer, ...] = ()
    breaking_notes: tuple[str, ...] = ()
    reverts: tuple[str, ...] = field(default=())  # shas (possibly abbreviated) this commit reverts
    git_revert: bool = False  # spelled as git's `Revert "..."` / `Reapply "..."`

    @property
    def sha(self) -> str:
        return self.raw.sha

    @property
    def short(self) -> str:
        return self.raw.short

    @property
    def conventional(self) -> bool:
        return self.type is not None

    @property
    def breaking(self) -> bool:
        return self.bang or bool(self.breaking_notes)

    @property
    def is_revert(self) -> bool:
        return self.type == "revert"


def split_message(message: str) -> tuple[str, list[str]]:
    """The header (first line) and the paragraphs after it (blank-line separated, right-stripped)."""
    text = message.replace("\r\n", "\n").strip("\n")
    lines = text.split("\n")
    header = lines[0].strip() if lines else ""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines[1:]:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return header, paragraphs


def parse_header(header: str) -> Optional[tuple[str, Optional[str], bool, str]]:
    """(type, scope, bang, description) of a Conventional Commit header, or None."""
    match = HEADER_RE.match(header)
    if not match or not match.group("description").strip():
        return None
    scope = match.group("scope")
    return (
        match.group("type").lower(),
        scope.strip() if scope is not None else None,
        bool(match.group("bang")),
        match.group("description").strip(),
    )


def _footer_block(paragraphs: list[str]) -> int:
    """Index of the first paragraph of the trailing footer block (len(paragraphs) if there is none)."""
    start = len(paragraphs)
    while start > 0 and FOOTER_RE.match(paragraphs[start - 1].split("\n", 1)[0]):
        start -= 1
    return start


def _parse_footers(paragraphs: list[str]) -> list[Footer]:
    footers: list[tuple[str, list[str]]] = []
    for paragraph in paragraphs:
        for line in paragraph.split("\n"):
            match = FOOTER_RE.match(line)
            if match:
                footers.append((match.group("token"), [match.group("value")]))
            elif footers:
                footers[-1][1].append(line)
        if footers:
            footers[-1][1].append("")  # a blank line inside a value separates paragraphs of it
    return [Footer(token, "\n".join(value).strip()) for token, value in footers]


def _body_breaking_notes(body_paragraphs: list[str]) -> list[str]:
    notes = []
    for paragraph in body_paragraphs:
        for token in BREAKING_TOKENS:
            if paragraph.startswith(f"{token}: "):
                notes.append(paragraph[len(token) + 2 :].strip())
    return notes


def parse_commit(raw: RawCommit, types: Collection[str] = TYPES) -> Commit:
    header, paragraphs = split_message(raw.message)
    start = _footer_block(paragraphs)
    body_paragraphs, footer_paragraphs = paragraphs[:start], paragraphs[start:]
    footers = tuple(_parse_footers(footer_paragraphs))
    notes = [f.value for f in footers if f.token in BREAKING_TOKENS]
    notes += _body_breaking_notes(body_paragraphs)
    body = "\n\n".join(body_paragraphs)

    reverted = [m.group("sha").lower() for m in _REVERTS_SHA_RE.finditer(raw.message)]
    git_revert = _GIT_REVERT_RE.match(header)
    if git_revert:
        inner = parse_header(git_revert.group("inner"))
        return Commit(
            raw=raw,
            header=header,
            body=body,
            type="revert",
            scope=inner[1] if inner else None,
            description=git_revert.group("inner"),
            footers=footers,
            reverts=tuple(dict.fromkeys(reverted)),
            git_revert=True,
        )

    parsed = parse_header(header)
    if parsed is None or parsed[0] not in types:
        return Commit(raw=raw, header=header, body=body, type=None, scope=None, description=header)
    type_, scope, bang, description = parsed
    if type_ == "revert":
        for footer in footers:
            if footer.token.lower() in ("refs", "reverts"):
                reverted += [s.lower() for s in _SHA_RE.findall(footer.value)]
    if bang and not notes:
        notes = [description]
    return Commit(
        raw=raw,
        header=header,
        body=body,
        type=type_,
        scope=scope or None,
        description=description,
        bang=bang,
        footers=footers,
        breaking_notes=tuple(notes),
        reverts=tuple(dict.fromkeys(reverted)) if type_ == "revert" else (),
    )
