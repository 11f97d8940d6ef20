"""One ``main()`` for every command line: settings, logging, redaction and the exit-code table.

A service's ``cli.py`` builds its parser from its settings and hands its dispatch to :func:`run`::

    def main(argv: Optional[list[str]] = None) -> int:
        return run("recommendation-service", argv, build_parser, RecoSettings)

``run`` loads the settings (a bad variable is one line naming it, exit 2), builds the parser with
flags that default from them, parses (usage errors are one redacted line, exit 2), configures JSON
logging at ``--log-level``/``NFC_LOG_LEVEL`` with secrets redacted, calls ``args.func(args)`` and maps
whatever it raises: a :class:`~netflix_clone.platform.errors.PlatformError` to its exit code and one
line on stderr (with ``--json`` also one object on stdout), SIGINT to 130, anything else - a bug - to exit 1 with the
traceback. The outcome line and JSON object have the same shape for every service::

    {"outcome": "failed", "exit_code": 1, "reason": "Redis at 127.0.0.1:6399/0 is unreachable ..."}
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Optional, TypeVar

from netflix_clone.platform.errors import ExitCode, PlatformError, UsageError
from netflix_clone.platform.logging import configure_logging
from netflix_clone.platform.redaction import Redactor, redact_url
from netflix_clone.platform.settings import ServiceSettings, load_settings

__all__ = ["ArgumentParser", "emit", "fail_line", "one_line", "run"]

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
# Libraries that narrate every request at INFO (httpx logs URLs, which can be secret webhooks).
_NOISY = ("botocore", "boto3", "urllib3", "httpx", "httpcore", "cassandra", "s3transfer")


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors raise :class:`UsageError` (one redacted line, exit 2) instead of
    printing the whole usage block; ``--help`` shows defaults and environment variables."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def one_line(text: str) -> str:
    """Collapse line breaks (libpq's messages span lines) so an outcome is always one line.

    >>> one_line("connection refused\\n\\tIs the server running on that host?\\n")
    'connection refused Is the server running on that host?'
    """
    return " ".join(text.split())


def fail_line(prog: str, exc: BaseException, redactor: Redactor) -> str:
    kind = "rejected" if getattr(exc, "exit_code", 1) == ExitCode.USAGE else "failed"
    return redactor.redact(redact_url(one_line(f"{prog}: {kind}: {exc}")))


def emit(payload: dict[str, Any], line: str, *, as_json: bool, redactor: Redactor, stream: Any = None) -> None:
    """Print an outcome: ``line`` for people on stderr, always; with ``--json`` also the JSON object on
    stdout (so CI logs read the same and a parser of stdout gets exactly one object)."""
    print(redactor.redact(line), file=stream or sys.stderr, flush=True)
    if as_json:
        print(json.dumps(redactor.redact_obj(payload), indent=2, default=str), flush=True)


def run(
    prog: str,
    argv: Optional[Sequence[str]],
    build_parser: Callable[[SettingsT], argparse.ArgumentParser],
    settings_cls: type[SettingsT],
    *,
    redactor: Optional[Redactor] = None,
    on_error: Optional[Callable[[PlatformError, argparse.Namespace], Optional[int]]] = None,
) -> int:
    """Run one command: see the module docstring. ``args.func(args)`` returns the exit code.

    ``on_error`` lets a service print a richer outcome for its own errors (deploy adds its state);
    it returns the exit code, or ``None`` for the default handling.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    redactor = redactor or Redactor.from_environment()
    args: Optional[argparse.Namespace] = None
    try:
        settings = load_settings(settings_cls)
        parser = build_parser(settings)
        args = parser.parse_args(argv)
        level = str(getattr(args, "log_level", None) or settings.log_level).upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise UsageError(f"--log-level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}")
        configure_logging(prog, level)
        for noisy in _NOISY:
            logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
        redactor.install()
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return int(ExitCode.USAGE)
        return int(func(args))
    except PlatformError as exc:
        if on_error is not None and args is not None:
            code = on_error(exc, args)
            if code is not None:
                return code
        payload = {"outcome": _outcome(exc), "exit_code": int(exc.exit_code), "reason": one_line(str(exc))}
        emit(payload, fail_line(prog, exc, redactor), as_json=as_json, redactor=redactor)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        payload = {"outcome": "interrupted", "exit_code": int(ExitCode.INTERRUPTED), "reason": "SIGINT"}
        emit(payload, f"{prog}: interrupted", as_json=as_json, redactor=redactor)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # pylint: disable=broad-except  # a bug: say so, with the traceback
        text = redactor.redact("".join(traceback.format_exception(exc)))
        print(text, file=sys.stderr, end="")
        payload = {"outcome": "error", "exit_code": 1, "reason": f"internal error: {type(exc).__name__}: {exc}"}
        emit(
            payload,
            f"{prog}: internal error (a bug - please report it with the traceback above): "
            f"{type(exc).__name__}: {exc}",
            as_json=as_json,
            redactor=redactor,
        )
        return int(ExitCode.FAILED)


def _outcome(exc: PlatformError) -> str:
    return {
        ExitCode.USAGE: "rejected",
        ExitCode.BUSY: "busy",
        ExitCode.PARTIAL: "partial",
        ExitCode.RECOVERY_INCOMPLETE: "recovery incomplete",
    }.get(exc.exit_code, "failed")
