"""Performance suite: run every benchmark, check targets, keep history, catch regressions, plot.

    ./pants run benchmarks:perf -- run [--quick] [--history perf-history/history.jsonl] [--markdown]
    ./pants run benchmarks:perf -- check REPORT.json ...
    ./pants run benchmarks:perf -- compare --baseline OLD.json --candidate NEW.json
    ./pants run benchmarks:perf -- ab --baseline BASE/perf.pex --candidate dist/benchmarks/perf.pex
    ./pants run benchmarks:perf -- plot --history FILE --benchmark recommendations \
        --metric topn_exact.ms.p99 --out p.html

`ab` is the regression gate: it runs the baseline's and the candidate's suite (each a perf pex, e.g. one
built from the base commit) in alternating rounds and compares them round by round (see perfstats).
`compare` is the trend against stored history. `run`, `check`, `compare` and `ab` exit 1 when a target is
missed or a regression is found (--no-fail to report only). --markdown prints GitHub-flavoured tables (for
the job summary); --json prints the machine-readable result instead of a table.
"""

from __future__ import annotations

# isort: off
import harness  # first: pins BLAS threads before numpy loads

# isort: on

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402  # nosec B404 - runs the benchmark pexes the caller names
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Optional  # noqa: E402

from perfstats import (  # noqa: E402
    TargetResult,
    Verdict,
    append_history,
    check_targets,
    compare_counts,
    compare_paired,
    compare_runs,
    get_path,
    holm,
    read_history,
    render_plot,
)

TARGETS = Path(__file__).with_name("targets.json")
SUITES = ("recommendations", "analytics", "video", "instructions")
TIMED = ("recommendations", "analytics")  # `ab` rounds by default: minutes per round, not tens
PLANTED = harness.PLANTED_SLOWDOWN


def load_config(path: Optional[str] = None) -> dict[str, Any]:
    return dict(json.loads(Path(path or TARGETS).read_text(encoding="utf-8")))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


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
        if not runs or candidate is None or "samples" not in tracked:
            continue  # a metric with one value per run is compared only in A/B rounds
        if tracked.get("deterministic"):
            # Same code, same count: the newest baseline run is the reference, no pooling needed.
            verdict = compare_counts(
                get_path(runs[-1], tracked["samples"]) or [],
                get_path(candidate, tracked["samples"]) or [],
                threshold=float(settings.get("threshold", 0.10)),
            )
            out.append((tracked, verdict))
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


def verdict_table(verdicts: Sequence[tuple[dict[str, Any], Verdict]], markdown: bool = False) -> str:
    rows = [
        [
            t["benchmark"],
            t["metric"],
            f"{v.base_median:.6g}",
            f"{v.new_median:.6g}",
            f"{v.change:+.1%}" if not math.isnan(v.change) else "—",
            "—" if math.isnan(v.p_value) else f"{v.p_value:.2g}",
            v.verdict,
        ]
        for t, v in verdicts
    ]
    return _table(["benchmark", "metric", "baseline", "candidate", "worse by", "p", "verdict"], rows, markdown)


def _verdict_json(verdicts: Sequence[tuple[dict[str, Any], Verdict]]) -> list[dict[str, Any]]:
    def num(x: float) -> Optional[float]:
        return None if math.isnan(x) else x

    return [
        {
            "benchmark": t["benchmark"],
            "metric": t["metric"],
            "higher_is_better": bool(t.get("higher_is_better")),
            "verdict": v.verdict,
            "change": num(v.change),
            "p_value": num(v.p_value),
            "baseline_median": num(v.base_median),
            "candidate_median": num(v.new_median),
        }
        for t, v in verdicts
    ]


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
    import benchmark_video

    import benchmark_instructions
    import benchmark_recommendations

    suites = {
        "recommendations": benchmark_recommendations.main,
        "analytics": benchmark_analytics.main,
        "video": benchmark_video.main,
        "instructions": benchmark_instructions.main,
    }
    chosen = args.only.split(",") if args.only else list(suites)
    unknown = sorted(set(chosen) - set(suites))
    if unknown:
        raise SystemExit(f"perf run: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(suites)}")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reports: dict[str, dict[str, Any]] = {}
    for name in chosen:
        out = out_dir / f"{name}.json"
        extra = ["--quick"] if args.quick else []
        print(f"perf: running {name}", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(sys.stderr):  # the report goes to `out`; stdout is the table
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
    base = {name: runs[-args.baseline_runs :] for name, runs in _runs_by_benchmark(args.baseline).items()}
    verdicts = compare_reports(base, _by_benchmark(args.candidate), config)
    return _report_verdicts(verdicts, {"verdicts": _verdict_json(verdicts)}, args)


def _report_verdicts(
    verdicts: Sequence[tuple[dict[str, Any], Verdict]],
    result: dict[str, Any],
    args: argparse.Namespace,
) -> int:
    """Print `result` (--json) or the verdict table; exit status 1 on a regression unless --no-fail."""
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(verdict_table(verdicts, args.markdown))
    regressions = [t["metric"] for t, v in verdicts if v.verdict == "regression"]
    if regressions:
        print(f"regressions: {', '.join(regressions)}", file=sys.stderr)
    return 0 if args.no_fail or not regressions else 1


def _parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"perf ab: expected NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def _run_side(
    command: Sequence[str], name: str, quick: bool, env: dict[str, str], out_dir: Path, log: Any
) -> tuple[dict[str, Any], float]:
    """One benchmark of one side in its own process; its report and the seconds it took."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = out_dir / f"{name}.json"
    report_path.unlink(missing_ok=True)  # an earlier `ab` into the same directory must not stand in
    argv = [*command, "run", "--only", name, "--no-fail", "--out-dir", str(out_dir)]
    started = time.perf_counter()
    # The target table goes to the log with the benchmark's progress: the report file is the result.
    result = subprocess.run(  # nosec B603 - argument list from the caller's own flags
        argv + (["--quick"] if quick else []), env=env, stdout=log, stderr=log, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or not report_path.exists():
        raise SystemExit(f"perf ab: {shlex.join(argv)} failed with exit code {result.returncode}; see {log.name}")
    return json.loads(report_path.read_text(encoding="utf-8")), elapsed


def ab_rounds(
    sides: dict[str, tuple[list[str], dict[str, str]]],
    names: Sequence[str],
    rounds: int,
    quick: bool,
    out_dir: Path,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Reports per benchmark per side, one per round. Order alternates (AB, BA, AB, ...) so that a
    machine getting steadily busier or quieter does not favour either side."""
    reports: dict[str, dict[str, list[dict[str, Any]]]] = {name: {side: [] for side in sides} for name in names}
    labels = list(sides)
    with open(out_dir / "ab.log", "w", encoding="utf-8") as log:
        for r in range(rounds):
            order = labels if r % 2 == 0 else labels[::-1]
            for name in names:
                for side in order:
                    command, env = sides[side]
                    log.write(f"=== round {r + 1} {name} {side}\n")
                    log.flush()
                    report, elapsed = _run_side(command, name, quick, env, out_dir / side / f"round{r + 1}", log)
                    reports[name][side].append(report)
                    print(
                        f"perf ab: round {r + 1}/{rounds} {name} {side}: {elapsed:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    return reports


def _round_values(runs: Sequence[dict[str, Any]], metric: str) -> list[float]:
    found = [get_path(report, metric) for report in runs]
    return [float(v) if isinstance(v, (int, float)) else math.nan for v in found]


def compare_ab(
    reports: dict[str, dict[str, list[dict[str, Any]]]], config: dict[str, Any]
) -> list[tuple[dict[str, Any], Verdict]]:
    settings = config.get("regression", {})
    out = []
    for tracked in config["tracked"]:
        sides = reports.get(tracked["benchmark"])
        if not sides:
            continue
        base = _round_values(sides["baseline"], tracked["metric"])
        new = _round_values(sides["candidate"], tracked["metric"])
        threshold = float(settings.get("threshold", 0.10))
        if tracked.get("deterministic"):
            verdict = compare_counts(base, new, threshold=threshold)
        else:
            # alpha=1: classify by size and direction here; significance is decided over the family.
            verdict = compare_paired(
                base,
                new,
                higher_is_better=bool(tracked.get("higher_is_better")),
                threshold=threshold,
                alpha=1.0,
            )
        out.append((tracked, verdict))
    alpha = float(settings.get("alpha", 0.01))
    adjusted = holm([v.p_value if not t.get("deterministic") else math.nan for t, v in out])
    judged = []
    for (tracked, verdict), p_adj in zip(out, adjusted):
        if not math.isnan(p_adj):
            called = verdict.verdict in ("regression", "improvement") and p_adj < alpha
            verdict = replace(verdict, verdict=verdict.verdict if called else "no change", p_value=p_adj)
        judged.append((tracked, verdict))
    return judged


def timed_tracked(config: dict[str, Any], names: Sequence[str]) -> int:
    """How many wall-clock metrics an A/B of these suites judges (the size of the Holm family)."""
    return sum(1 for t in config["tracked"] if t["benchmark"] in names and not t.get("deterministic"))


def cmd_ab(args: argparse.Namespace) -> int:
    config = load_config(args.targets)
    alpha = float(config.get("regression", {}).get("alpha", 0.01))
    names = args.only.split(",") if args.only else list(TIMED)
    # The exact signed-rank test over n rounds cannot go below p = 2**-n, and Holm asks the most
    # significant of m metrics for p < alpha / m.
    family = max(1, timed_tracked(config, names))
    needed = math.floor(math.log2(family / alpha)) + 1
    if args.rounds < needed:
        raise SystemExit(
            f"perf ab: {args.rounds} rounds can never reach p < {alpha:g}/{family} metrics; "
            f"use at least {needed} rounds"
        )
    # The planted slowdown reaches a side only when asked for with --baseline-env/--candidate-env.
    inherited = {k: v for k, v in os.environ.items() if k != PLANTED}
    sides = {
        "baseline": (shlex.split(args.baseline), {**inherited, **_parse_env(args.baseline_env)}),
        "candidate": (shlex.split(args.candidate), {**inherited, **_parse_env(args.candidate_env)}),
    }
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    reports = ab_rounds(sides, names, args.rounds, not args.full, out_dir)
    verdicts = compare_ab(reports, config)
    result = {
        "baseline": args.baseline,
        "candidate": args.candidate,
        "baseline_env": _parse_env(args.baseline_env),
        "candidate_env": _parse_env(args.candidate_env),
        "rounds": args.rounds,
        "sizes": "full" if args.full else "quick",
        "seconds": round(time.perf_counter() - started, 1),
        "verdicts": _verdict_json(verdicts),
        "values": {
            t["benchmark"]
            + ":"
            + t["metric"]: {
                side: [get_path(rep, t["metric"]) for rep in reports[t["benchmark"]][side]]
                for side in ("baseline", "candidate")
            }
            for t, _ in verdicts
        },
    }
    (out_dir / "ab.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return _report_verdicts(verdicts, result, args)


def cmd_revision(args: argparse.Namespace) -> int:
    """The git revision of the newest stored run: what the stored baseline was built from."""
    for entry in reversed(read_history(Path(args.history))):
        revision = entry.get("environment", {}).get("git_revision")
        if revision:
            print(revision)
            return 0
    print(f"perf revision: no run with a git revision in {args.history}", file=sys.stderr)
    return 1


def cmd_plot(args: argparse.Namespace) -> int:
    entries = read_history(Path(args.history), args.benchmark)
    Path(args.out).write_text(render_plot(entries, args.metric, f"{args.benchmark}: {args.metric}"), encoding="utf-8")
    print(f"wrote {args.out} ({len(entries)} runs)")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--targets", help="targets file (default: benchmarks/targets.json)")
        p.add_argument("--markdown", action="store_true")
        p.add_argument("--no-fail", action="store_true")
        return p

    p = add("run", "run the benchmarks, append to history, print the target table")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", help="comma-separated: " + ",".join(SUITES))
    p.add_argument("--out-dir", default="perf-results")
    p.add_argument("--history", help="JSON-lines history to append to")
    p.set_defaults(fn=cmd_run)
    p = add("check", "target table for existing reports (.json, or .jsonl history: last entry wins)")
    p.add_argument("reports", nargs="+")
    p.set_defaults(fn=cmd_check)
    p = add("compare", "noise-aware regression check of candidate reports against baseline reports")
    p.add_argument(
        "--baseline",
        nargs="+",
        required=True,
        help="reports or histories (several runs: noise-aware)",
    )
    p.add_argument("--baseline-runs", type=int, default=3, help="use the last N baseline runs per benchmark")
    p.add_argument("--candidate", nargs="+", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_compare)
    p = add("ab", "regression gate: baseline and candidate suites in alternating rounds, paired test")
    p.add_argument("--baseline", required=True, help="command of the baseline's perf pex")
    p.add_argument("--candidate", required=True, help="command of the candidate's perf pex")
    p.add_argument("--baseline-env", action="append", default=[], metavar="NAME=VALUE", help="repeatable")
    p.add_argument(
        "--candidate-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"repeatable; e.g. {PLANTED}=0.15 to prove the gate catches a 15 %% slowdown",
    )
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--only", help=f"comma-separated (default {','.join(TIMED)}): {','.join(SUITES)}")
    p.add_argument("--full", action="store_true", help="target sizes instead of --quick sizes")
    p.add_argument("--out-dir", default="perf-ab")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_ab)
    p = add("revision", "git revision of the newest run in a history (the stored baseline)")
    p.add_argument("--history", required=True)
    p.set_defaults(fn=cmd_revision)
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
