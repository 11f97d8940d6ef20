"""Instruction counts of the services' hot paths under valgrind (callgrind), as JSON.

Wall-clock time on a shared machine swings by tens of percent from one second to the next (measured here:
the same pure-Python loop at 1.05 ms and 1.48 ms within one process), so a timed benchmark cannot tell a
15 % regression from a busy neighbour without many interleaved rounds. Instructions executed do not
depend on what the rest of the machine is doing: the same code, inputs and interpreter give the same
count, run after run. This suite is the regression gate's sharp edge; the timed suites say how fast.

Each kernel's setup (data, model, index) runs uncounted. Counting covers exactly the calls made through
`sys.call_tracing`: callgrind is started with collection off and toggles it on entry to and exit from that
C function (nothing else in these code paths calls it), dumping one profile per kernel.

    ./pants run benchmarks:benchmark_instructions -- [--repeats 2] [--out FILE]

Needs valgrind (Debian: apt-get install valgrind).
"""

from __future__ import annotations

# isort: off
import harness  # noqa: F401  (first: pins BLAS threads before numpy loads)

# isort: on

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402  # nosec B404 - runs valgrind on this interpreter
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Optional  # noqa: E402

import numpy as np  # noqa: E402

TOGGLE = "sys_call_tracing"


@dataclass(frozen=True)
class Kernel:
    name: str
    what: str  # one unit of work; counts are reported per unit
    batch: int  # units per call: every call does the same work on the same inputs


# Every call of a kernel repeats identical work. Each kernel is counted twice, over REPS and 2 x REPS
# calls, and the difference is the cost of REPS calls: constant costs (a cache filled on first use, the
# call into the toggle) cancel, so the planted slowdown (15 % more calls) shows as exactly 15 %.
REPS = 20
KERNELS = (
    Kernel("predict_single", "one rating prediction by user and title id", 25),
    Kernel("predict_batch_10k", "one vectorized batch of 10 000 predictions", 1),
    Kernel("topn_exact_20k", "exact top-10 over 20 000 titles, seen titles excluded", 2),
    Kernel("topn_ann_20k", "HNSW top-10 over the same 20 000 titles", 10),
    Kernel("qoe_session", "QoE metrics of one closed session", 3),
    Kernel("decode_sessionize", "decode one wire event and add it to a sessionizer", 100),
)
BATCH = {k.name: k.batch for k in KERNELS}


def log(message: str) -> None:
    print(f"[benchmark_instructions] {message}", file=sys.stderr, flush=True)


def prepare(workdir: Path) -> None:
    """Build what the kernels load, natively (an HNSW build under valgrind would take minutes).

    Single-threaded with fixed seeds, so every revision that builds it the same way gets the same files.
    """
    from netflix_clone.recommendation_service.adapters.artifacts import save_model
    from netflix_clone.recommendation_service.adapters.hnsw_index import build_ann_index

    from benchmark_recommendations import synthetic_model

    model = synthetic_model(users=5_000, items=20_000, dim=64, seen_per_user=40, seed=4)
    index, report = build_ann_index(model.item_factors, model.user_factors, target_recall=0.95, threads=1)
    model.metadata["ann"] = {"ip": {"ef": report.ef}}
    save_model(workdir / "model", model, ann={"ip": index})


def _recommendation_kernels(workdir: Path) -> dict[str, Callable[[], object]]:
    from netflix_clone.recommendation_service.adapters.artifacts import load_model
    from netflix_clone.recommendation_service.serving.recommender import Recommender

    loaded = load_model(workdir / "model")
    exact = Recommender(loaded.model)
    approximate = Recommender(loaded.model, ann=loaded.ann["ip"])
    rng = np.random.default_rng(1)
    n_users, n_items = loaded.model.n_users, loaded.model.n_items
    users = loaded.model.user_ids[rng.integers(0, n_users, size=64)].tolist()
    items = loaded.model.item_ids[rng.integers(0, n_items, size=64)].tolist()
    pairs = list(zip(users, items))[: BATCH["predict_single"]]
    u_idx = rng.integers(0, n_users, size=10_000)
    i_idx = rng.integers(0, n_items, size=10_000)

    def predict_single() -> None:
        for user, item in pairs:
            exact.score(user, item)

    def topn(recommender: Recommender, count: int) -> Callable[[], None]:
        chosen = users[:count]

        def run() -> None:
            for user in chosen:
                recommender.recommend(user, 10)

        return run

    return {
        "predict_single": predict_single,
        "predict_batch_10k": lambda: exact.score_indices(u_idx, i_idx),
        "topn_exact_20k": topn(exact, BATCH["topn_exact_20k"]),
        "topn_ann_20k": topn(approximate, BATCH["topn_ann_20k"]),
    }


def _analytics_kernels() -> dict[str, Callable[[], object]]:
    from netflix_clone.analytics_consumer.adapters.session_store import SessionBatch, pack_events
    from netflix_clone.analytics_consumer.domain.session import compute_session
    from netflix_clone.contracts.player_events import decode_event, encode_event
    from netflix_clone.tools.analytics.simulator import simulate_population

    events = simulate_population(sessions=12, users=10, seed=5, spread_s=60)
    by_sid: dict[str, list[Any]] = {}
    for event in events:
        by_sid.setdefault(event.sid, []).append(event)
    sessions = list(by_sid.values())[: BATCH["qoe_session"]]
    wire = [encode_event(e) for e in events[: BATCH["decode_sessionize"]]]

    def qoe() -> None:
        for session in sessions:
            compute_session(session, "end")

    def decode_sessionize() -> None:
        # The stream path's client work per batch: decode, group by session, pack each session's
        # events for its one append (fresh each call: every call does the same work).
        batches: dict[str, SessionBatch] = {}
        for raw in wire:
            event = decode_event(raw)
            batch = batches.get(event.sid)
            if batch is None:
                batch = batches[event.sid] = SessionBatch(event.sid)
            batch.add(event, event.ts)
        for batch in batches.values():
            pack_events(batch.events)

    return {"qoe_session": qoe, "decode_sessionize": decode_sessionize}


RECOMMENDATION_KERNELS = {"predict_single", "predict_batch_10k", "topn_exact_20k", "topn_ann_20k"}


def _kernels(workdir: Path, names: list[str]) -> dict[str, Callable[[], object]]:
    """One callable per chosen kernel, each doing one unit of work per call, cycling its inputs."""
    kernels: dict[str, Callable[[], object]] = {}
    if RECOMMENDATION_KERNELS & set(names):
        kernels.update(_recommendation_kernels(workdir))
    if set(names) - RECOMMENDATION_KERNELS:
        kernels.update(_analytics_kernels())
    return kernels


def _repeat(fn: Callable[[], object], count: int) -> None:
    for _ in range(count):
        fn()


def child(workdir: Path, names: list[str]) -> None:
    """Runs under callgrind: set up uncounted, then one counted `sys.call_tracing` per kernel."""
    kernels = _kernels(workdir, names)
    slowdown = harness.planted_slowdown()
    for kernel in (k for k in KERNELS if k.name in names):
        fn = kernels[kernel.name]
        # Warm-up as long as the first segment: first-call costs (caches, lazy imports) stay out of
        # the count, and so does Python 3.10's opcache, which a function only gets after 1024 calls.
        _repeat(fn, REPS)
        # As timeit does: a collection triggered by allocation counts would land in one kernel or the
        # next depending on what ran before, which is noise in a count.
        gc.collect()
        gc.disable()
        # The planted slowdown, in instruction terms: 15 % more calls of the same work.
        calls = REPS + round(REPS * slowdown)
        sys.call_tracing(_repeat, (fn, calls))
        sys.call_tracing(_repeat, (fn, 2 * calls))
        gc.enable()


def _summary(path: Path) -> int:
    match = re.search(r"^summary:\s+(\d+)", path.read_text(encoding="utf-8"), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no summary line in {path}")
    return int(match.group(1))


def count_once(workdir: Path, valgrind: str, names: list[str]) -> dict[str, int]:
    """Instructions of REPS calls per kernel from one callgrind run of `child`."""
    chosen = [k for k in KERNELS if k.name in names]
    out = workdir / "callgrind"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    # A fixed, minimal environment: its size sets where the child's stack starts, and alignment moves
    # counts of copy loops (seen: +0.7 % on one kernel between two runs that differed only in shell
    # variables).
    keep = ("PATH", "HOME", "LANG", *harness.PINNED_THREADS)
    env = {
        **{name: os.environ[name] for name in keep if name in os.environ},
        # Always present and the same length, planted or not: the environment's size moves the stack.
        harness.PLANTED_SLOWDOWN: f"{harness.planted_slowdown():.4f}",
        "PYTHONHASHSEED": "0",  # str hashing decides dict/set layouts, and so instruction counts
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [
        valgrind,
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={TOGGLE}",
        f"--dump-after={TOGGLE}",
        f"--callgrind-out-file={out / 'cg.out'}",
        sys.executable,
        "-c",
        "import sys, pathlib, benchmark_instructions as b; b.child(pathlib.Path(sys.argv[1]), sys.argv[2:])",
        str(workdir),
        *(k.name for k in chosen),
    ]
    result = subprocess.run(  # nosec B603 - fixed valgrind arguments, this interpreter
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"valgrind run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    dumps = sorted(
        (p for p in out.iterdir() if re.fullmatch(r"cg\.out\.\d+", p.name)),
        key=lambda p: int(p.name.rsplit(".", 1)[1]),
    )
    if len(dumps) != 2 * len(chosen):
        raise RuntimeError(
            f"expected {2 * len(chosen)} callgrind dumps, found {len(dumps)}: is {TOGGLE} a symbol of "
            f"{sys.executable} (a stripped interpreter hides it)?"
        )
    counts = [_summary(dump) for dump in dumps]
    return {kernel.name: counts[2 * i + 1] - counts[2 * i] for i, kernel in enumerate(chosen)}


def _valgrind_version(valgrind: str) -> Optional[str]:
    try:
        return subprocess.run(  # nosec B603 - fixed command
            [valgrind, "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="independent valgrind runs; their spread shows the count's own noise",
    )
    parser.add_argument("--quick", action="store_true", help="accepted for `perf run`; no effect")
    parser.add_argument(
        "--kernels",
        default=",".join(k.name for k in KERNELS),
        help="comma-separated subset (default: all)",
    )
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args(argv)
    names = args.kernels.split(",")
    unknown = sorted(set(names) - {k.name for k in KERNELS})
    if unknown:
        parser.error(f"unknown kernel(s): {', '.join(unknown)}")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    runs: list[dict[str, int]] = []
    with tempfile.TemporaryDirectory(prefix="nfc-bench-instr-") as tmp:
        workdir = Path(tmp)
        if RECOMMENDATION_KERNELS & set(names):
            log("building the model and the HNSW index (uncounted)")
            prepare(workdir)
        for r in range(args.repeats):
            started = time.perf_counter()
            runs.append(count_once(workdir, valgrind, names))
            log(f"valgrind run {r + 1}/{args.repeats}: {time.perf_counter() - started:.1f} s")
    kernels: dict[str, Any] = {}
    for kernel in (k for k in KERNELS if k.name in names):
        per_op = [run[kernel.name] / (REPS * kernel.batch) for run in runs]
        kernels[kernel.name] = {
            "per_op": statistics.median(per_op),
            "repeats": per_op,
            "units_counted": REPS * kernel.batch,
            "unit": "instructions per unit of work",
            "what": kernel.what,
        }
        log(f"{kernel.name}: {statistics.median(per_op):,.0f} instructions per unit ({kernel.what})")
    env = harness.environment(["numpy", "scipy", "hnswlib", "msgspec"])
    env["valgrind"] = _valgrind_version(valgrind)
    harness.write_report("instructions", {"kernels": kernels}, env, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
