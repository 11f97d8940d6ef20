"""deploy: the pex CI calls to ship a service to ECS.

  deploy staging     new task-definition revision (image pinned by digest) -> rolled out -> smoke tests
  deploy production  blue-green behind an ALB: green up, tested, traffic shifted in analysed steps,
                     baked, blue retired; on any failure, SIGINT or SIGTERM: back to the known-good colour
  deploy rollback    back to the known-good revision recorded by the last deploy (never a guess)
  deploy status      the last deploy's record and the lock (with its token)
  deploy break-lock  remove a dead run's lock, by the token `status` shows
  deploy init        create the DynamoDB lock table, once per account and region

Exit codes (the README's table): 0 done; 1 failed, service on its known-good revision; 2 rejected
(usage, configuration, nothing to act on), nothing changed; 3 lock held by another run, or lost by this
one; 4 deployed, a post-deploy step failed; 5 failed and the rollback could not finish - run
`deploy rollback`. Reports: --report-dir (JSON + text); --json prints JSON. Secrets never appear in
any output. Each flag's environment variable and default are in its help (NFC_DEPLOY_*, AWS_REGION).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Optional

from netflix_clone.deploy.arguments import fraction, non_negative, percent, positive, steps_arg, validate
from netflix_clone.deploy.commands import (
    cmd_break_lock,
    cmd_init,
    cmd_production,
    cmd_rollback,
    cmd_staging,
    cmd_status,
    emit,
)
from netflix_clone.deploy.errors import EXIT_FAILED, EXIT_USAGE, DeployError, GatewayError, Interrupted
from netflix_clone.deploy.settings import DeploySettings
from netflix_clone.deploy.wiring import SIGNALS
from netflix_clone.platform.cli import ArgumentParser, run
from netflix_clone.platform.errors import PlatformError
from netflix_clone.platform.redaction import Redactor
from netflix_clone.platform.settings import add_option

__all__ = ["build_parser", "main"]

SERVICES = ("analytics-consumer", "recommendation-service", "video-processor")
log = logging.getLogger("netflix_clone.deploy")


def _common(p: argparse.ArgumentParser, settings: DeploySettings) -> None:
    p.add_argument("--service", required=True, choices=SERVICES)
    p.add_argument("--cluster", default=None, help="ECS cluster (default netflix-clone-<environment>)")
    add_option(p, "--region", settings, "region")
    p.add_argument("--container", default=None, help="container to update (default: the one in the target group)")
    add_option(p, "--lock-table", settings, "lock_table")
    p.add_argument(
        "--lock-ttl-s",
        type=positive(float),
        default=600.0,
        help="lease length; renewed while the run lives, and at least three times the longest AWS call "
        "(default 600)",
    )
    p.add_argument("--owner", default=None, help="lock owner label (default: the CI run and job)")
    add_option(p, "--slack-webhook", settings, "slack_webhook")
    p.add_argument("--report-dir", default="deploy-reports", help="JSON and text reports (default deploy-reports)")
    p.add_argument("--rollout-timeout-s", type=positive(float), default=900.0, help="(default 900)")
    p.add_argument("--poll-s", type=positive(float), default=15.0, help="(default 15)")
    p.add_argument(
        "--recovery-timeout-s",
        type=positive(float),
        default=600.0,
        help="how long each rollback step retries AWS errors before giving up (exit 5; default 600)",
    )
    p.add_argument("--aws-timeout-s", type=positive(float), default=10.0, help="per-call read timeout (default 10)")
    p.add_argument("--aws-max-attempts", type=positive(int), default=4, help="per call, with backoff (default 4)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON (for CI)")


def _production_flags(p: argparse.ArgumentParser, settings: DeploySettings) -> None:
    add_option(p, "--listener-arn", settings, "lb_listener_arn")
    add_option(p, "--blue-target-group", settings, "blue_target_group_arn")
    add_option(p, "--green-target-group", settings, "green_target_group_arn")
    add_option(
        p,
        "--rule-arn",
        settings,
        "lb_rule_arn",
        action="append",
        help="listener rule(s) forwarding to the service (repeatable or comma-separated); with rules, the "
        "listener's default action is never touched",
    )
    p.set_defaults(rule_arn=[settings.lb_rule_arn] if settings.lb_rule_arn else None)
    p.add_argument("--min-requests", type=positive(int), default=100, help="per colour and window (default 100)")
    p.add_argument(
        "--min-latency-samples",
        type=positive(int),
        default=3,
        help="p99 periods a window needs before its latency counts as evidence (default 3)",
    )
    p.add_argument("--max-error-rate", type=fraction, default=0.01, help="(default 0.01)")
    p.add_argument("--latency-tolerance", type=non_negative, default=0.20, help="(default 0.20)")
    p.add_argument("--max-p99-ms", type=positive(float), default=None)
    p.add_argument("--metric-period-s", type=positive(int), default=60, help="(default 60)")
    p.add_argument("--strategy", choices=("canary", "linear", "all-at-once", "custom"), default="canary")
    p.add_argument("--steps", type=steps_arg, help="custom: rising percentages ending at 100, e.g. 5,25,50,100")
    p.add_argument(
        "--step-minutes",
        type=non_negative,
        default=3.0,
        help="linear/custom: analysis window per step (enough for --min-latency-samples periods; default 3)",
    )
    p.add_argument("--canary-percent", type=percent, default=10, help="(default 10)")
    p.add_argument("--canary-minutes", type=non_negative, default=5.0, help="(default 5)")
    p.add_argument("--linear-percent", type=percent, default=10, help="(default 10)")
    p.add_argument("--bake-minutes", type=non_negative, default=5.0, help="(default 5)")
    p.add_argument(
        "--baseline-minutes",
        type=non_negative,
        default=10.0,
        help="blue's history read before the first shift, the baseline once blue serves nothing (default 10)",
    )
    add_option(p, "--green-test-url", settings, "green_test_url")
    p.add_argument("--green-check", action="append", help='e.g. "GET /readyz 200" (repeatable)')
    p.add_argument("--nodata-policy", choices=("extend", "fail"), default="extend")
    p.add_argument("--marginal-policy", choices=("extend", "fail", "continue"), default="extend")


def build_parser(settings: DeploySettings, redactor: Optional[Redactor] = None) -> argparse.ArgumentParser:
    redactor = redactor or Redactor.from_environment()
    parser = ArgumentParser(prog="deploy", description=__doc__)
    add_option(parser, "--log-level", settings, "log_level", type=str.upper)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, helptext: str, func: Any, signals: bool) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.set_defaults(func=lambda args: _dispatch(args, func, redactor), signals=signals)
        return p

    p = command("staging", "deploy to staging", cmd_staging, True)
    _common(p, settings)
    p.add_argument("--image", required=True)
    add_option(p, "--target-group", settings, "staging_target_group_arn")
    add_option(p, "--smoke-url", settings, "staging_url")
    p.add_argument("--smoke-check", action="append", help='e.g. "GET /healthz 200" (repeatable)')
    p.add_argument("--dry-run", action="store_true")

    p = command("production", "blue-green deploy to production", cmd_production, True)
    _common(p, settings)
    _production_flags(p, settings)
    p.add_argument("--image", help="registry/repository:tag to deploy (not with --resume: the record has it)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted deploy from its record")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    add_option(p, "--cloudfront-distribution-id", settings, "cloudfront_distribution_id")
    p.add_argument("--invalidate", action="append", help="CloudFront path to invalidate (repeatable)")
    p.add_argument("--warm-cache", action="store_true", help="run recommendation-service's warm-cache task after")
    add_option(p, "--grafana-url", settings, "grafana_url")
    add_option(p, "--grafana-api-key", settings, "grafana_api_key")
    p.add_argument("--dashboards", default=None, help="directory of dashboard JSON (default: the packaged ones)")

    p = command("rollback", "back to the known-good revision of the last deploy", cmd_rollback, True)
    _common(p, settings)
    _production_flags(p, settings)
    p.add_argument("--reason", default="manual rollback")

    for name, helptext, func in (
        ("status", "the last recorded deploy and the lock", cmd_status),
        ("break-lock", "remove a dead run's lock (by the token `status` shows)", cmd_break_lock),
        ("init", "create the DynamoDB lock table (once per account and region)", cmd_init),
    ):
        p = command(name, helptext, func, False)
        # The table is shared by every service, so `init` needs none.
        p.add_argument("--service", required=name != "init", choices=SERVICES)
        p.add_argument("--environment", choices=("staging", "production"), default="production")
        add_option(p, "--lock-table", settings, "lock_table")
        add_option(p, "--region", settings, "region")
        p.add_argument("--aws-timeout-s", type=positive(float), default=10.0, help="(default 10)")
        p.add_argument("--aws-max-attempts", type=positive(int), default=4, help="(default 4)")
        p.add_argument("--json", action="store_true")
        if name == "break-lock":
            p.add_argument("--token", required=True, help="the lease token shown by `deploy status`")
            p.add_argument(
                "--force",
                action="store_true",
                help="break a lease that has not expired yet (make sure its run is dead first)",
            )
    return parser


def _dispatch(args: argparse.Namespace, func: Any, redactor: Redactor) -> int:
    """Run one command with its secrets redacted and SIGINT/SIGTERM turned into a rollback."""
    for secret in (getattr(args, "slack_webhook", None), getattr(args, "grafana_api_key", None)):
        redactor.add(secret)
    if args.signals:
        SIGNALS.install()
    try:
        validate(args)
        return int(func(args, redactor))
    except Interrupted as exc:
        emit(
            args,
            redactor,
            {"outcome": "interrupted", "exit_code": EXIT_FAILED, "reason": str(exc)},
            f"deploy: {exc} before anything was changed",
        )
        return EXIT_FAILED
    except PlatformError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # AWS errors become one line; bugs go on
        from netflix_clone.deploy.adapters.aws_gateway import describe_error

        if type(exc).__module__.startswith(("botocore", "boto3")):
            raise describe_error(exc) from None
        raise


def _on_error(exc: PlatformError, args: argparse.Namespace, redactor: Redactor) -> Optional[int]:
    """Deploy's outcomes carry the record's state; an AWS error before any change says so."""
    if not hasattr(args, "json"):
        return None
    if isinstance(exc, GatewayError):
        kind = "rejected" if exc.exit_code == EXIT_USAGE else "failed"
        payload = {"outcome": kind, "exit_code": int(exc.exit_code), "reason": f"{exc}; nothing was changed"}
        emit(args, redactor, payload, f"deploy: {kind}: {exc}; nothing was changed")
        return int(exc.exit_code)
    if isinstance(exc, DeployError):
        state = getattr(exc, "state", None)
        payload = {
            "outcome": type(exc).__name__,
            "exit_code": int(exc.exit_code),
            "reason": str(exc),
            "state": state.as_dict() if state is not None else None,
        }
        emit(args, redactor, payload, f"deploy: {'rejected: ' if exc.exit_code == EXIT_USAGE else ''}{exc}")
        return int(exc.exit_code)
    return None


def main(argv: Optional[list[str]] = None) -> int:
    redactor = Redactor.from_environment()
    return run(
        "deploy",
        argv,
        lambda settings: build_parser(settings, redactor),
        DeploySettings,
        redactor=redactor,
        on_error=lambda exc, args: _on_error(exc, args, redactor),
    )


if __name__ == "__main__":
    sys.exit(main())
