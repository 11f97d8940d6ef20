"""Performance suite: run every benchmark, check targets, keep history, catch regressions, plot.

    ./pants run benchmarks:perf -- run [--quick] [--history perf-history/history.jsonl] [--markdown]
    ./pants run benchmarks:perf -- check REPORT.json ...
    ./pants run benchmarks:perf -- compare --baseline OLD.json --candidate NEW.json
    ./pants run benchmarks:perf -- plot --history FILE --benchmark recommendations \
        --metric topn_exact.ms.p99 --out p.html

`run`, `check` and `compare` exit 1 when a target is missed or a regression is found (--no-fail to report
only). --markdown prints GitHub-flavoured tables (for the job summary).
"""

from __future__ import annotations

import harness  # noqa: F401  # pylint: disable=unused-import  (first: pins BLAS threads)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Optional  # noqa: E402

from perfstats import (  # noqa: E402
    TargetResult,
    Verdict,
    append_history,
    check_targets,
    compare_runs,
    get_path,
    read_history,
    render_plot,
)

TARGETS = Path(__file__).with_name("targets.json")


def load_config(path: Optional[str] = None) -> dict[str, Any]:
    return dict(json.loads(Path(path or TARGETS).read_text(encoding="utf-8")))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
        + [fmt.format(*r) for r in rows]
    )


def target_table(results: Sequence[TargetResult], markdown: bool = False) -> str:
    rows = [
        [
            r.benchmark,
            r.metric,
            "—" if r.value is None else f"{r.value:.6g}",
            f"{r.op} {r.target:g}",
            r.status,
            r.source,
        ]
        for r in results
    ]
    return _table(["benchmark", "metric", "value", "target", "status", "source"], rows, markdown)


def compare_reports(
    base: dict[str, list[dict[str, Any]]], new: dict[str, dict[str, Any]], config: dict[str, Any]
) -> list[tuple[dict[str, Any], Verdict]]:
    settings = config.get("regression", {})
    out = []
    for tracked in config["tracked"]:
        runs, candidate = base.get(tracked["benchmark"], []), new.get(tracked["benchmark"])
        if not runs or candidate is None:
            continue
        verdict = compare_runs(
            [get_path(run, tracked["samples"]) or [] for run in runs],
            get_path(candidate, tracked["samples"]) or [],
            higher_is_better=bool(tracked.get("higher_is_better")),
            threshold=float(settings.get("threshold", 0.10)),
            alpha=float(settings.get("alpha", 0.01)),
        )
        out.append((tracked, verdict))
    return out


def verdict_table(
    verdicts: Sequence[tuple[dict[str, Any], Verdict]], markdown: bool = False
) -> str:
    rows = [
        [
            t["benchmark"],
            t["metric"],
            f"{v.base_median:.6g}",
            f"{v.new_median:.6g}",
            f"{v.change:+.1%}" if not math.isnan(v.change) else "—",
            f"{v.p_value:.2g}",
            v.verdict,
        ]
        for t, v in verdicts
    ]
    return _table(
        ["benchmark", "metric", "baseline", "candidate", "worse by", "p", "verdict"], rows, markdown
    )


def _runs_by_benchmark(paths: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every report in the files (.json: one; .jsonl history: all), grouped by benchmark, oldest first."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        if path.endswith(".jsonl"):
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            documents = [json.loads(text)]
        for report in documents:
            runs.setdefault(report["benchmark"], []).append(report)
    return runs


def _by_benchmark(paths: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The latest report per benchmark."""
    return {name: reports[-1] for name, reports in _runs_by_benchmark(paths).items()}


def cmd_run(args: argparse.Namespace) -> int:
    import benchmark_analytics
    import benchmark_recommendations

    suites = {
        "recommendations": benchmark_recommendations.main,
        "analytics": benchmark_analytics.main,
    }
    chosen = args.only.split(",") if args.only else list(suites)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reports: dict[str, dict[str, Any]] = {}
    for name in chosen:
        out = out_dir / f"{name}.json"
        extra = ["--quick"] if args.quick else []
        print(f"perf: running {name}", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(
            sys.stderr
        ):  # the report goes to `out`; stdout is the table
            suites[name](["--out", str(out), *extra])
        reports[name] = json.loads(out.read_text(encoding="utf-8"))
        if args.history:
            append_history(Path(args.history), reports[name])
    config = load_config(args.targets)
    results = check_targets(reports, [t for t in config["targets"] if t["benchmark"] in reports])
    print(target_table(results, args.markdown))
    return 0 if args.no_fail or all(r.status == "pass" for r in results) else 1


def cmd_check(args: argparse.Namespace) -> int:
    reports = _by_benchmark(args.reports)
    config = load_config(args.targets)
    results = check_targets(reports, [t for t in config["targets"] if t["benchmark"] in reports])
    print(target_table(results, args.markdown))
    return 0 if args.no_fail or all(r.status == "pass" for r in results) else 1


def cmd_compare(args: argparse.Namespace) -> int:
    config = load_config(args.targets)
    base = {
        name: runs[-args.baseline_runs :]
        for name, runs in _runs_by_benchmark(args.baseline).items()
    }
    verdicts = compare_reports(base, _by_benchmark(args.candidate), config)
    print(verdict_table(verdicts, args.markdown))
    regressions = [t["metric"] for t, v in verdicts if v.verdict == "regression"]
    if regressions:
        print(f"regressions: {', '.join(regressions)}", file=sys.stderr)
    return 0 if args.no_fail or not regressions else 1


def cmd_plot(args: argparse.Namespace) -> int:
    entries = read_history(Path(args.history), args.benchmark)
    Path(args.out).write_text(
        render_plot(entries, args.metric, f"{args.benchmark}: {args.metric}"), encoding="utf-8"
    )
    print(f"wrote {args.out} ({len(entries)} runs)")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--targets", help="targets file (default: benchmarks/targets.json)")
        p.add_argument("--markdown", action="store_true")
        p.add_argument("--no-fail", action="store_true")
        return p

    p = add("run", "run the benchmarks, append to history, print the target table")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", help="comma-separated: recommendations,analytics")
    p.add_argument("--out-dir", default="perf-results")
    p.add_argument("--history", help="JSON-lines history to append to")
    p.set_defaults(fn=cmd_run)
    p = add(
        "check", "target table for existing reports (.json, or .jsonl history: last entry wins)"
    )
    p.add_argument("reports", nargs="+")
    p.set_defaults(fn=cmd_check)
    p = add("compare", "noise-aware regression check of candidate reports against baseline reports")
    p.add_argument(
        "--baseline",
        nargs="+",
        required=True,
        help="reports or histories (several runs: noise-aware)",
    )
    p.add_argument(
        "--baseline-runs", type=int, default=3, help="use the last N baseline runs per benchmark"
    )
    p.add_argument("--candidate", nargs="+", required=True)
    p.set_defaults(fn=cmd_compare)
    p = add("plot", "HTML/SVG chart of one metric over the history")
    p.add_argument("--history", required=True)
    p.add_argument("--benchmark", required=True)
    p.add_argument("--metric", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_plot)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
