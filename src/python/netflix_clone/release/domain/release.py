"""The release plan: which commits count, how they bump the version, and the changelog section.

Reverts are settled before anything is counted. A revert of a commit in the same range cancels both (the
pair is listed as reverted before release and bumps nothing); a revert of that revert brings the original
back. A revert of work released earlier is itself a change and bumps PATCH. Merge commits are skipped:
the commits they merge are in the range themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

from netflix_clone.release.domain.commits import Commit, RawCommit, parse_commit
from netflix_clone.release.domain.versions import Bump, Version, VersionError, bump_version, next_prerelease
from netflix_clone.release.errors import NothingToRelease

__all__ = [
    "RELEASING_TYPES",
    "SECTIONS",
    "Entry",
    "ReleasePlan",
    "NothingToRelease",
    "plan_release",
    "render_changelog",
    "bump_of",
]

# Section titles in changelog order; types not listed here go under "Other changes (<type>)".
SECTIONS: tuple[tuple[str, str], ...] = (
    ("feat", "Features"),
    ("fix", "Bug Fixes"),
    ("perf", "Performance"),
    ("revert", "Reverts"),
    ("refactor", "Refactoring"),
    ("docs", "Documentation"),
    ("test", "Tests"),
    ("build", "Build"),
    ("ci", "Continuous Integration"),
    ("chore", "Chores"),
    ("style", "Style"),
)
RELEASING_TYPES = {"feat": Bump.MINOR, "fix": Bump.PATCH, "perf": Bump.PATCH, "revert": Bump.PATCH}


@dataclass(frozen=True)
class Entry:
    commit: Commit
    bump: Bump
    services: Optional[tuple[str, ...]] = None  # None: not computed

    @property
    def sha(self) -> str:
        return self.commit.sha


@dataclass(frozen=True)
class ReleasePlan:
    previous: Optional[Version]
    version: Version
    bump: Bump  # the part of the version that changed
    entries: tuple[Entry, ...]  # counted commits (conventional, not cancelled), oldest first
    cancelled: tuple[tuple[Commit, Commit], ...]  # (commit, the revert that cancelled it)
    unconventional: tuple[Entry, ...]  # listed in the changelog, never counted
    merges: tuple[RawCommit, ...]
    explicit: bool = False
    notes: tuple[str, ...] = field(default=())
    requested: Bump = Bump.NONE  # the highest bump the commits ask for

    @property
    def tag(self) -> str:
        return self.version.tag

    @property
    def releasable(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.bump is not Bump.NONE)


def bump_of(commit: Commit) -> Bump:
    if not commit.conventional:
        return Bump.NONE
    if commit.breaking:
        return Bump.MAJOR
    return RELEASING_TYPES.get(commit.type or "", Bump.NONE)


def _settle_reverts(
    commits: Sequence[Commit],
) -> tuple[list[Commit], list[tuple[Commit, Commit]]]:
    """The commits still in effect, and the (commit, revert) pairs that cancelled each other."""
    by_sha = {c.sha.lower(): c for c in commits}

    def resolve(ref: str) -> Optional[str]:
        found = [sha for sha in by_sha if sha.startswith(ref.lower())]
        return found[0] if len(found) == 1 else None

    active = {c.sha.lower() for c in commits}
    cancelled_by: dict[str, str] = {}  # sha -> the revert that cancelled it
    undid: dict[str, str] = {}  # revert sha -> the sha it cancelled
    for commit in commits:
        if not commit.is_revert:
            continue
        for ref in commit.reverts:
            target = resolve(ref)
            if target is None or target == commit.sha.lower():
                continue
            me = commit.sha.lower()
            if target in undid and undid[target] in cancelled_by:
                # A revert of a revert: the original is back; this pair cancels.
                original = undid[target]
                active.add(original)
                del cancelled_by[original]
                active.discard(target)
                active.discard(me)
                cancelled_by[target] = me
                undid[me] = target
            elif target in active:
                active.discard(target)
                active.discard(me)
                cancelled_by[target] = me
                undid[me] = target
    still = [c for c in commits if c.sha.lower() in active]
    pairs = [
        (by_sha[sha], by_sha[revert])
        for sha, revert in cancelled_by.items()
        if sha not in undid  # show originals only, not revert-of-revert bookkeeping
    ]
    pairs.sort(key=lambda pair: [c.sha for c in commits].index(pair[0].sha))
    return still, pairs


def plan_release(
    commits: Iterable[RawCommit],
    previous: Optional[Version],
    known_versions: Iterable[Version] = (),
    pre: Optional[str] = None,
    explicit: Optional[Version] = None,
    services: Optional[Mapping[str, tuple[str, ...]]] = None,
) -> ReleasePlan:
    """Plan the release of ``commits`` (oldest first) after ``previous`` (the last stable release).

    ``known_versions`` are every ``v*`` tag's version (for pre-release numbering and in-progress
    pre-release series); ``services`` maps a commit sha to the services it touched.
    Raises NothingToRelease when no commit bumps the version (an explicit version still needs one).
    """
    raws = list(commits)
    merges = tuple(r for r in raws if r.is_merge)
    parsed = [parse_commit(r) for r in raws if not r.is_merge]
    still, pairs = _settle_reverts(parsed)
    touched = services or {}
    unconventional = tuple(Entry(c, Bump.NONE, touched.get(c.sha)) for c in still if not c.conventional)
    entries = tuple(Entry(c, bump_of(c), touched.get(c.sha)) for c in still if c.conventional)
    requested = max((e.bump for e in entries), default=Bump.NONE)
    if requested is Bump.NONE:
        counted = len(entries)
        raise NothingToRelease(
            f"no releasable commits since {previous.tag if previous else 'the first commit'}: "
            f"{len(raws)} commit(s), {counted} conventional and none of them feat, fix, perf, a revert "
            "of released work or a breaking change"
        )
    versions = sorted(set(known_versions))
    notes: list[str] = []
    if explicit is not None:
        if explicit.is_prerelease:
            raise VersionError(f"--next-version {explicit} must not be a pre-release; use --pre")
        if previous is not None and explicit <= previous:
            raise VersionError(f"--next-version {explicit} is not above the last release {previous}")
        target = explicit
    else:
        target = bump_version(previous, requested)
        if requested is Bump.MAJOR and target.major == 0:
            notes.append("a breaking change bumps the minor version while below 1.0.0")
        # A pre-release series already under way for a higher version continues (v2.0.0-rc.1 exists,
        # a fix lands: the next candidate is v2.0.0-rc.2, not v1.2.1).
        ongoing = [
            v.core for v in versions if v.is_prerelease and (previous is None or v.core > previous) and v.core > target
        ]
        if ongoing:
            notes.append(f"continuing the pre-release series of {max(ongoing)}")
            target = max(ongoing)
    version = next_prerelease(target, pre, versions) if pre else target
    return ReleasePlan(
        previous=previous,
        version=version,
        bump=_changed_part(previous, target),
        entries=entries,
        cancelled=tuple(pairs),
        unconventional=unconventional,
        merges=merges,
        explicit=explicit is not None,
        notes=tuple(notes),
        requested=requested,
    )


def _changed_part(previous: Optional[Version], target: Version) -> Bump:
    base = previous.core if previous is not None else Version(0, 0, 0)
    if target.major != base.major:
        return Bump.MAJOR
    if target.minor != base.minor:
        return Bump.MINOR
    return Bump.PATCH


def _services_text(services: Optional[tuple[str, ...]]) -> str:
    if services is None:
        return ""
    return f" — images: {', '.join(services) if services else 'none'}"


def _line(entry_commit: Commit, services: Optional[tuple[str, ...]]) -> str:
    breaking = " **BREAKING**" if entry_commit.breaking else ""
    return f"- {entry_commit.description} ({entry_commit.short}){breaking}{_services_text(services)}"


def render_changelog(
    plan: ReleasePlan,
    date: str,
    images_changed: Optional[Sequence[str]] = None,
    services_source: str = "",
    images_changed_how: str = "",
) -> str:
    """The Markdown section for this release: breaking changes, then each type grouped by scope."""
    out = [f"## {plan.tag} ({date})", ""]
    since = plan.previous.tag if plan.previous else "the first commit"
    summary = f"{plan.bump.label} release after {since}"
    if plan.explicit:
        summary = f"version set explicitly after {since} (the commits ask for a {plan.requested.label} bump)"
    out.append(f"{summary}: {len(plan.entries)} conventional commit(s).")
    for note in plan.notes:
        out.append(f"Note: {note}.")
    if images_changed is not None:
        how = f" ({images_changed_how})" if images_changed_how else ""
        out.append(f"Images that change: {', '.join(images_changed) if images_changed else 'none'}{how}.")
    if services_source:
        out.append(f"Images per commit: {services_source}.")
    out.append("")

    breaking = [e for e in plan.entries if e.commit.breaking]
    if breaking:
        out += ["### ⚠ BREAKING CHANGES", ""]
        for entry in breaking:
            scope = f"**{entry.commit.scope}:** " if entry.commit.scope else ""
            for note in entry.commit.breaking_notes:
                text = note.replace("\n", " ")
                out.append(f"- {scope}{text} ({entry.commit.short})")
        out.append("")

    known = [t for t, _ in SECTIONS]
    others = sorted({e.commit.type or "" for e in plan.entries} - set(known))
    titles = list(SECTIONS) + [(t, f"Other changes ({t})") for t in others]
    for type_, title in titles:
        of_type = [e for e in plan.entries if e.commit.type == type_]
        if not of_type:
            continue
        out += [f"### {title}", ""]
        scopes = sorted({e.commit.scope for e in of_type if e.commit.scope})
        for scope in scopes:
            out.append(f"#### {scope}")
            out += [_line(e.commit, e.services) for e in of_type if e.commit.scope == scope]
            out.append("")
        unscoped = [e for e in of_type if not e.commit.scope]
        if unscoped:
            if scopes:
                out.append("#### (no scope)")
            out += [_line(e.commit, e.services) for e in unscoped]
            out.append("")

    if plan.cancelled:
        out += ["### Reverted before release (in neither this release nor its version bump)", ""]
        for original, revert in plan.cancelled:
            out.append(f"- {original.header} ({original.short}), reverted by {revert.short}")
        out.append("")
    if plan.unconventional:
        out += [
            "### Not Conventional Commits (listed, not counted towards the version)",
            "",
        ]
        out += [f"- {e.commit.header} ({e.commit.short}){_services_text(e.services)}" for e in plan.unconventional]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
