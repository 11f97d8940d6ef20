"""The status-check names GitHub Actions reports for pull requests, read from parsed workflow files.

A job reports one check run per matrix combination, named by the job's ``name:`` with ``${{ matrix.x }}``
filled in, or, without a name, by its id (plus ``(v1, v2)`` for a matrix). Branch protection requires those
names, so a required check must be a job that runs on pull requests into the protected branch: a check
that nothing reports never turns green, and a job skipped on pull requests (``if: github.event_name ==
'push'``) reports "skipped", which GitHub counts as passing - protection in name only.

``if:`` conditions are evaluated for a ``pull_request`` event with a small three-valued evaluator of the
expression language (``==``, ``!=``, ``&&``, ``||``, ``!``, parentheses, literals, ``github.event_name``,
``always()``/``success()``); anything else is "unknown", and a required check behind an unknown condition
is reported rather than assumed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

__all__ = [
    "UNKNOWN",
    "CheckSource",
    "evaluate_condition",
    "expand_matrix",
    "job_check_names",
    "pull_request_checks",
    "triggers",
    "verify_required_checks",
]


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
Tri = Union[bool, _Unknown]
Value = Union[str, float, bool, None, _Unknown]

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<op>==|!=|&&|\|\||<=|>=|<|>|!|\(|\)|,)|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_.\-*\[\]]*))"
)
_EXPR_RE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read expression at {text[pos:]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
    return tokens


class _Parser:
    """Recursive descent over GitHub's expression grammar (the subset a job's `if:` uses)."""

    def __init__(self, tokens: list[tuple[str, str]], context: Mapping[str, Value]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.context = context

    def _peek(self) -> Optional[tuple[str, str]]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Value:
        value = self._or()
        if self._peek() is not None:
            raise ValueError(f"unexpected {self._peek()}")
        return value

    def _or(self) -> Value:
        left = self._and()
        while self._peek() == ("op", "||"):
            self._take()
            right = self._and()
            left = _or(left, right)
        return left

    def _and(self) -> Value:
        left = self._cmp()
        while self._peek() == ("op", "&&"):
            self._take()
            right = self._cmp()
            left = _and(left, right)
        return left

    def _cmp(self) -> Value:
        left = self._unary()
        while self._peek() in (("op", "=="), ("op", "!=")):
            op = self._take()[1]
            right = self._unary()
            if isinstance(left, _Unknown) or isinstance(right, _Unknown):
                left = UNKNOWN
            else:
                equal = _loose_equal(left, right)
                left = equal if op == "==" else not equal
        return left

    def _unary(self) -> Value:
        if self._peek() == ("op", "!"):
            self._take()
            value = self._unary()
            return UNKNOWN if isinstance(value, _Unknown) else not _truthy(value)
        return self._primary()

    def _primary(self) -> Value:
        kind, text = self._take()
        if (kind, text) == ("op", "("):
            value = self._or()
            self._expect(")")
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if kind == "name":
            if self._peek() == ("op", "("):
                self._take()
                depth = 1
                while depth:  # arguments are skipped: functions other than the status ones are unknown
                    token = self._take()
                    depth += {("op", "("): 1, ("op", ")"): -1}.get(token, 0)
                return {"always": True, "success": True}.get(text.lower(), UNKNOWN)
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            return self.context.get(text, UNKNOWN)
        raise ValueError(f"unexpected {text!r}")

    def _expect(self, op: str) -> None:
        if self._take() != ("op", op):
            raise ValueError(f"expected {op!r}")


def _truthy(value: Value) -> bool:
    return bool(value)


def _loose_equal(left: Value, right: Value) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()  # GitHub compares strings case-insensitively
    return left == right


def _and(left: Value, right: Value) -> Value:
    if not isinstance(left, _Unknown) and not _truthy(left):
        return False
    if not isinstance(right, _Unknown) and not _truthy(right):
        return False
    if isinstance(left, _Unknown) or isinstance(right, _Unknown):
        return UNKNOWN
    return True


def _or(left: Value, right: Value) -> Value:
    if not isinstance(left, _Unknown) and _truthy(left):
        return True
    if not isinstance(right, _Unknown) and _truthy(right):
        return True
    if isinstance(left, _Unknown) or isinstance(right, _Unknown):
        return UNKNOWN
    return False


def evaluate_condition(condition: Any, context: Mapping[str, Value]) -> Tri:
    """True/False/UNKNOWN for a job's ``if:`` (absent: True) under ``context`` (e.g. github.event_name)."""
    if condition is None:
        return True
    if isinstance(condition, bool):
        return condition
    text = str(condition).strip()
    match = _EXPR_RE.fullmatch(text)
    if match:
        text = match.group(1)
    try:
        value = _Parser(_tokenize(text), context).parse()
    except (ValueError, IndexError):
        return UNKNOWN
    return UNKNOWN if isinstance(value, _Unknown) else _truthy(value)


def triggers(workflow: Mapping[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as boolean True.
    value = workflow.get("on", workflow.get(True))
    if isinstance(value, str):
        return {value: {}}
    if isinstance(value, list):
        return {str(v): {} for v in value}
    return dict(value or {})


def _branch_matches(pattern: str, branch: str) -> bool:
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, branch) is not None


def runs_on_pull_requests_into(workflow: Mapping[Any, Any], branch: str) -> bool:
    spec = triggers(workflow).get("pull_request")
    if spec is None and "pull_request" not in triggers(workflow):
        return False
    spec = spec or {}
    if "branches" in spec:
        return any(_branch_matches(p, branch) for p in spec["branches"])
    if "branches-ignore" in spec:
        return not any(_branch_matches(p, branch) for p in spec["branches-ignore"])
    return True


def _path_filtered(workflow: Mapping[Any, Any]) -> bool:
    spec = triggers(workflow).get("pull_request") or {}
    return "paths" in spec or "paths-ignore" in spec


def expand_matrix(matrix: Any) -> Optional[list[dict[str, Any]]]:
    """Every combination of a job's ``strategy.matrix`` (None when it comes from an expression)."""
    if matrix is None:
        return [{}]
    if not isinstance(matrix, dict):
        return None
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    if any(not isinstance(v, list) for v in axes.values()):
        return None
    combos: list[dict[str, Any]] = (
        [dict(zip(axes, values)) for values in itertools.product(*axes.values())] if axes else []
    )
    for exclude in matrix.get("exclude") or []:
        combos = [c for c in combos if any(c.get(k) != v for k, v in exclude.items())]
    originals = [dict(c) for c in combos]
    for include in matrix.get("include") or []:
        matched = False
        for combo, original in zip(combos, originals):
            if all(original.get(k) == v for k, v in include.items() if k in axes):
                combo.update({k: v for k, v in include.items() if k not in axes})
                matched = True
        if not matched:
            combos.append(dict(include))
    return combos or [{}]


def _fill_matrix(template: str, combo: Mapping[str, Any]) -> Optional[str]:
    """``template`` with its ``${{ matrix.x }}`` filled in; None if another expression remains."""
    parts: list[str] = []
    position = 0
    for match in _EXPR_RE.finditer(template):
        expr = match.group(1).strip()
        key = expr[len("matrix.") :] if expr.startswith("matrix.") else None
        if key is None or key not in combo:
            return None
        parts += [template[position : match.start()], str(combo[key])]
        position = match.end()
    return "".join(parts) + template[position:]


def job_check_names(job_id: str, job: Mapping[str, Any]) -> Optional[list[str]]:
    """The check-run names a job reports; None when a name depends on something other than the matrix."""
    combos = expand_matrix((job.get("strategy") or {}).get("matrix"))
    if combos is None:
        return None
    template = job.get("name")
    names: list[str] = []
    for combo in combos:
        if template is None:
            values = [str(v) for v in combo.values()]
            names.append(f"{job_id} ({', '.join(values)})" if values else job_id)
            continue
        name = _fill_matrix(str(template), combo)
        if name is None:
            return None
        names.append(name)
    return list(dict.fromkeys(names))


def _as_tri(value: Value) -> Tri:
    return value if isinstance(value, _Unknown) else _truthy(value)


def _job_runs(
    jobs: Mapping[str, Any],
    job_id: str,
    context: Mapping[str, Value],
    memo: dict[str, Tri],
    seen: tuple[str, ...],
) -> Tri:
    """Whether a job runs: its own `if:` and, unless that tolerates it, every job it needs."""
    if job_id in memo:
        return memo[job_id]
    job = jobs[job_id]
    needs = job.get("needs") or []
    needs = [needs] if isinstance(needs, str) else list(needs)
    condition = job.get("if")
    result: Tri = evaluate_condition(condition, context)
    # A skipped dependency skips this job too, unless its `if:` says always().
    if condition is None or "always()" not in str(condition):
        for need in needs:
            if need in jobs and need not in seen:
                result = _as_tri(_and(result, _job_runs(jobs, need, context, memo, (*seen, job_id))))
    memo[job_id] = result
    return result


@dataclass(frozen=True)
class CheckSource:
    workflow: str
    job: str
    runs: Tri  # does the job run (rather than skip) on a pull request?
    path_filtered: bool = False  # the workflow runs only for pull requests touching some paths


def pull_request_checks(
    workflows: Mapping[str, Mapping[Any, Any]], branch: str
) -> tuple[dict[str, list[CheckSource]], list[str]]:
    """Check names reported on pull requests into ``branch``, each with the jobs that report it.

    Also returns the jobs whose names cannot be known statically (dynamic matrices or names).
    """
    context: dict[str, Value] = {"github.event_name": "pull_request", "github.base_ref": branch}
    found: dict[str, list[CheckSource]] = {}
    dynamic: list[str] = []
    for file_name, workflow in sorted(workflows.items()):
        if not runs_on_pull_requests_into(workflow, branch):
            continue
        jobs: Mapping[str, Any] = workflow.get("jobs") or {}
        runs: dict[str, Tri] = {}
        for job_id, job in jobs.items():
            names = job_check_names(job_id, job)
            if names is None:
                dynamic.append(f"{file_name}: {job_id}")
                continue
            for name in names:
                found.setdefault(name, []).append(
                    CheckSource(
                        file_name,
                        job_id,
                        _job_runs(jobs, job_id, context, runs, ()),
                        path_filtered=_path_filtered(workflow),
                    )
                )
    return found, dynamic


def verify_required_checks(
    required: Sequence[str], workflows: Mapping[str, Mapping[Any, Any]], branch: str
) -> list[str]:
    """Problems with the required check names: each must be reported by exactly one job that runs on
    pull requests into ``branch``. An empty list means every required check is real."""
    problems: list[str] = []
    found, _dynamic = pull_request_checks(workflows, branch)
    if len(set(required)) != len(required):
        problems.append("a required check is listed twice")
    for name in required:
        sources = found.get(name)
        if not sources:
            close = [n for n in found if n.lower() == name.lower()]
            hint = f" (case differs from {close[0]!r})" if close else ""
            problems.append(
                f"required check {name!r} is not a job that runs on pull requests into {branch}{hint}; "
                f"jobs there: {', '.join(sorted(found)) or 'none'}"
            )
            continue
        if len(sources) > 1:
            where = ", ".join(f"{s.workflow}:{s.job}" for s in sources)
            problems.append(f"required check {name!r} is reported by more than one job ({where})")
        for source in sources:
            if source.path_filtered:
                problems.append(
                    f"required check {name!r} ({source.workflow}:{source.job}) comes from a workflow "
                    "with a paths filter: pull requests outside those paths would wait for it forever"
                )
            if source.runs is False:
                problems.append(
                    f"required check {name!r} ({source.workflow}:{source.job}) is skipped on pull "
                    "requests, and a skipped check counts as passed"
                )
            elif isinstance(source.runs, _Unknown):
                problems.append(
                    f"required check {name!r} ({source.workflow}:{source.job}) has a condition that "
                    "cannot be evaluated statically; make it explicit"
                )
    return problems
