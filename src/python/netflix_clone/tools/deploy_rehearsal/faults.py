"""Faults the stand-in injects into AWS calls, and the error replies each AWS protocol expects.

A :class:`Fault` matches calls by service, action and (optionally) a substring of the request body,
and acts on the ``nth`` matching call and the ``times - 1`` after it (``times=0``: forever):

==========  ======================================================================================
kind        effect
==========  ======================================================================================
kill        SIGKILL the deploy process (``when="before"``: the call never reaches AWS; ``"after"``:
            it does, and the process dies before it sees the answer)
term, int   send SIGTERM / SIGINT to the deploy process, then answer the call normally
stop        SIGSTOP the deploy process and hold the call until :meth:`StandIn.resume_client`
http500     an InternalFailure reply (botocore retries it, then gives up)
throttle    a throttling reply (retried with backoff, then given up)
reset       close the connection without a reply
hang        say nothing for ``hang_s`` seconds, then close (the client's read timeout fires)
refuse      RunTask only: a reply with ``failures`` and no task
empty       GetMetricData only: a reply with no datapoints (a metric that reports nothing)
==========  ======================================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

__all__ = ["Fault", "PROTOCOLS", "error_reply", "phase_marker"]

# The wire protocol of each service, by its SigV4 signing name.
PROTOCOLS = {
    "ecs": "json",
    "dynamodb": "json",
    "ecr": "json",
    "monitoring": "json",
    "elasticloadbalancing": "query",
    "cloudfront": "rest-xml",
    "ec2": "query",
    "sts": "query",
}
# Short names tests and the CLI use for the signing names.
SERVICE_ALIASES = {
    "elbv2": "elasticloadbalancing",
    "cloudwatch": "monitoring",
}


def phase_marker(phase: str) -> str:
    """The substring a DynamoDB save of a deploy record in ``phase`` carries (JSON inside JSON)."""
    return '\\"phase\\": \\"' + phase + '\\"'


@dataclass
class Fault:
    service: str  # signing name or alias (ecs, elbv2, cloudwatch, dynamodb, ecr, cloudfront) or "*"
    action: str = "*"
    kind: str = "http500"
    when: str = "before"  # before | after
    nth: int = 1
    times: int = 1  # 0: every matching call from nth on
    match: str = ""
    hang_s: float = 5.0
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        self.service = SERVICE_ALIASES.get(self.service, self.service)
        if self.kind not in {
            "kill",
            "term",
            "int",
            "stop",
            "http500",
            "throttle",
            "reset",
            "hang",
            "refuse",
            "empty",
        }:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.when not in ("before", "after"):
            raise ValueError(f"fault 'when' must be before or after, got {self.when!r}")

    def matches(self, service: str, action: str, body: bytes) -> bool:
        if self.service not in ("*", service) or self.action not in ("*", action):
            return False
        return not self.match or self.match.encode() in body

    def take(self) -> bool:
        """Count one matching call; True if this one is to be faulted."""
        self.seen += 1
        if self.seen < self.nth:
            return False
        if self.times and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def describe(self) -> str:
        what = f"{self.service}:{self.action}" + (f"[{self.match}]" if self.match else "")
        often = "forever" if not self.times else f"x{self.times}"
        return f"{self.kind} {self.when} call #{self.nth} of {what} ({often})"

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """``KIND@SERVICE:ACTION[/before|after][#N][*TIMES][~MATCH]`` (MATCH last: it may contain
        any character), e.g. ``http500@cloudwatch:GetMetricData*0`` or ``kill@ecs:UpdateService/after#2``.
        """
        kind, _, rest = text.partition("@")
        rest, _, match = rest.partition("~")
        times, nth, when = 1, 1, "before"
        if "*" in rest:
            rest, _, t = rest.partition("*")
            times = int(t)
        if "#" in rest:
            rest, _, n = rest.partition("#")
            nth = int(n)
        if "/" in rest:
            rest, _, when = rest.partition("/")
        service, _, action = rest.partition(":")
        return cls(service or "*", action or "*", kind, when, nth, times, match)


def error_reply(protocol: str, kind: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a throttling or internal-failure reply in ``protocol``."""
    throttled = kind == "throttle"
    status = 400 if throttled else 500
    if protocol == "json":
        code = "ThrottlingException" if throttled else "InternalFailure"
        body = json.dumps({"__type": code, "message": "Rate exceeded" if throttled else "injected failure"})
        return (
            status,
            {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code},
            body.encode(),
        )
    code = "Throttling" if throttled else "InternalFailure"
    kind_attr = "Sender" if throttled else "Receiver"
    body = (
        f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>{kind_attr}</Type>'
        f"<Code>{code}</Code><Message>{'Rate exceeded' if throttled else 'injected failure'}</Message>"
        "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, body.encode()


def parse_faults(specs: Optional[list[str]]) -> list[Fault]:
    return [Fault.parse(s) for s in specs or []]
