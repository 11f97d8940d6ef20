"""recommendation-service command line: train, evaluate, serve, warm-cache, inspect, synthesize, quickstart.

Every command prints a human summary, or one JSON document with --json (for CI). Progress goes to stderr.
Exit codes (README "Exit codes"): 0 done; 1 failed (PostgreSQL, Redis or the S3 registry unreachable, an
upload that did not complete); 2 rejected (a bad flag or environment variable, unreadable or unusable
history, no readable model) - each failure is one line on stderr, never a traceback.

Long module: the parser and the seven commands' thin bodies (each only wires a use case to its output);
split per command it would scatter the shared flags.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from netflix_clone.platform.cli import ArgumentParser, run
from netflix_clone.platform.errors import Failed
from netflix_clone.platform.redaction import Redactor, redact_url
from netflix_clone.platform.settings import add_option, env_vars
from netflix_clone.recommendation_service.errors import HistoryError, ModelError, TrainingInputError
from netflix_clone.recommendation_service.settings import RecoSettings

__all__ = ["build_parser", "main", "write_history_csv"]

PROG = "recommendation-service"
WARM_CACHE_REDIS = "redis://127.0.0.1:6379/0"


def _progress(label: str) -> Any:
    def report(done: int, total: int, seconds: float) -> None:
        print(f"{label}: {done}/{total} ({seconds:.1f}s)", file=sys.stderr, flush=True)

    return report


def _emit(args: argparse.Namespace, payload: dict[str, Any], human: str) -> None:
    if args.json:
        print(json.dumps({"outcome": "ok", "exit_code": 0, **payload}, indent=2, sort_keys=True, default=str))
    else:
        print(human)


def _protect(args: argparse.Namespace, *values: Optional[str]) -> None:
    """Sources given on the command line may be database URLs with passwords: never echo them."""
    redactor: Optional[Redactor] = getattr(args, "redactor", None)
    for value in values:
        if redactor is not None and value and value != redact_url(value):
            redactor.add(value)


@contextmanager
def _rejecting_unusable_input() -> Iterator[None]:
    """History that cannot make a model (no usable rows, a split with no test users) is rejected
    input (exit 2), not a bug: the domain says so with ValueError."""
    try:
        yield
    except (ModelError, HistoryError):
        raise
    except ValueError as exc:
        raise TrainingInputError(" ".join(str(exc).split())) from None


# The fixed parameters used by --no-tune (and as the starting point the search reports against).
FIXED_DEFAULTS = {"factors": 64, "regularization": 0.05, "alpha": 20.0}


def _als_params(args: argparse.Namespace) -> Any:
    from netflix_clone.recommendation_service.training.als import AlsParams

    def pick(name: str) -> Any:
        value = getattr(args, name, None)
        return FIXED_DEFAULTS[name] if value is None else value

    with _rejecting_unusable_input():
        return AlsParams(
            factors=pick("factors"),
            regularization=pick("regularization"),
            alpha=pick("alpha"),
            iterations=args.iterations,
            seed=args.seed,
            threads=args.threads,
        )


def _tuning(args: argparse.Namespace) -> Any:
    """Tuning options, or None with --no-tune. Parameters given as flags are fixed, the rest searched."""
    from netflix_clone.recommendation_service.training.tuning import TuningOptions

    if getattr(args, "no_tune", False):
        return None
    fixed = {n: getattr(args, n, None) for n in ("factors", "regularization", "alpha")}
    if all(v is not None for v in fixed.values()):
        return None  # everything pinned: nothing to search
    return TuningOptions(
        budget_s=args.tune_budget,
        fixed_factors=fixed["factors"],
        fixed_regularization=fixed["regularization"],
        fixed_alpha=fixed["alpha"],
    )


def _add_training_args(parser: argparse.ArgumentParser, settings: RecoSettings) -> None:
    parser.add_argument("--history", required=True, help="CSV/Parquet file, sqlite:///PATH, or a PostgreSQL DSN/URL")
    parser.add_argument("--factors", type=int, default=None, help="fix the factor count (default: tuned)")
    parser.add_argument("--regularization", type=float, default=None, help="fix the ridge term (default: tuned)")
    parser.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="fix the confidence scaling c = 1 + alpha * strength (default: tuned)",
    )
    add_option(parser, "--tune-budget", settings, "tune_budget_s", type=float)
    parser.add_argument(
        "--no-tune",
        action="store_true",
        help=f"no search: the fixed defaults {FIXED_DEFAULTS} for what no flag sets",
    )
    _add_als_run_args(parser)


def _add_als_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iterations", type=int, default=15, help="ALS iterations (default 15)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of ALS and the splits (default 42)")
    threads = min(4, os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=threads, help=f"ALS threads (default {threads})")
    parser.add_argument(
        "--min-completion",
        type=float,
        default=0.05,
        help="sessions below this completion are ignored (default 0.05)",
    )


def cmd_train(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.adapters.history_sources import read_history
    from netflix_clone.recommendation_service.training.train import TrainOptions, train_and_save

    _protect(args, args.history, args.catalog)
    history = read_history(args.history)
    dropped = 0
    if args.catalog:
        from netflix_clone.recommendation_service.adapters.catalog_source import read_catalog, restrict_to_catalog

        catalog = read_catalog(args.catalog)
        if not catalog:
            raise HistoryError(f"the catalog {redact_url(args.catalog)} lists no titles")
        history, dropped = restrict_to_catalog(history, set(catalog))
    options = TrainOptions(
        params=_als_params(args),
        min_completion=args.min_completion,
        ann_threshold=args.ann_threshold,
        evaluate=not args.skip_eval,
        tuning=_tuning(args),
    )
    with _rejecting_unusable_input():
        result = train_and_save(history, Path(args.model_dir), options, progress=_progress("ALS iteration"))
    published = None
    if args.publish:
        from netflix_clone.recommendation_service.adapters.registry import publish

        published = publish(result.path, args.publish)
    meta = result.model.metadata
    metrics = meta.get("offline_metrics", {})
    params = meta["params"]
    human = (
        f"model {result.model.version} -> {result.path}\n  users {meta['n_users']}, titles {meta['n_items']}, "
        f"interactions {meta['n_interactions']}, trained in {meta['train_seconds']}s\n"
        f"  factors {params['factors']}, regularization {params['regularization']:g}, "
        f"alpha {params['alpha']:g}"
        + (
            f" (tuned in {meta['tuning']['seconds']}s, {len(meta['tuning']['trials'])} trials)"
            if meta.get("tuning")
            else " (fixed)"
        )
    )
    if "als" in metrics:
        human += f"\n  NDCG@10 ALS {metrics['als']['ndcg@10']:.4f} vs popularity {metrics['popularity']['ndcg@10']:.4f}"
    if args.catalog:
        human += f"\n  {dropped} history rows of titles not in the catalog left out"
    if published:
        human += f"\n  published to {published}"
    _emit(
        args,
        {**result.summary(), "dropped_not_in_catalog": dropped, "published": published},
        human,
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.adapters.history_sources import read_history
    from netflix_clone.recommendation_service.training.evaluation import evaluate

    _protect(args, args.history)
    history = read_history(args.history)
    tuning = _tuning(args)
    with _rejecting_unusable_input():
        reports = [
            evaluate(
                history,
                _als_params(args),
                split=split,
                fraction=args.test_fraction,
                k=args.k,
                min_completion=args.min_completion,
                progress=_progress(f"{split} split ALS"),
                tuning=tuning,
            ).as_dict()
            for split in (["random", "temporal"] if args.split == "both" else [args.split])
        ]
    lines = []
    for r in reports:
        k = r["k"]
        p = r["params"]
        lines.append(
            f"{r['split']} split ({r['test_rows']} held-out sessions), ALS factors {p['factors']}, "
            f"regularization {p['regularization']:g}, alpha {p['alpha']:g}"
            + (" (tuned on the train split)" if r.get("tuning") else " (fixed)")
        )
        for name in ("als", "als_fixed", "popularity"):
            if name not in r:
                continue
            m = r[name]
            lines.append(
                f"  {name:<10} NDCG@{k} {m[f'ndcg@{k}']:.4f}  Recall@{k} {m[f'recall@{k}']:.4f}  "
                f"(normalized {m[f'normalized_recall@{k}']:.4f})  MAP@{k} {m[f'map@{k}']:.4f}  "
                f"coverage {m['coverage']:.3f}"
            )
    # The history source may be a database URL with a password: never echo it verbatim.
    _emit(args, {"history": redact_url(args.history), "reports": reports}, "\n".join(lines))
    return 0


def _model_uri(args: argparse.Namespace) -> str:
    """--model-uri (NFC_RECO_MODEL_URI: s3://bucket/prefix or a path) wins over --model-dir."""
    return str(getattr(args, "model_uri", None) or args.model_dir)


def _store(args: argparse.Namespace) -> Any:
    from netflix_clone.recommendation_service.adapters.registry import open_store

    cache_dir = getattr(args, "model_cache_dir", None)
    return open_store(_model_uri(args), cache_dir=Path(cache_dir) if cache_dir else None)


def cmd_inspect(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.adapters.artifacts import load_model

    store = _store(args)
    version = args.version or store.current_version()
    directory = store.materialize(version)
    loaded = load_model(directory.parent, version)
    meta = {
        "version": loaded.model.version,
        **loaded.model.metadata,
        "ann_loaded": sorted(loaded.ann),
        "model_uri": redact_url(_model_uri(args)),
    }
    human = "\n".join(f"{k}: {json.dumps(v, default=str)}" for k, v in sorted(meta.items()))
    _emit(args, meta, human)
    return 0


def cmd_warm_cache(args: argparse.Namespace) -> int:
    import redis

    from netflix_clone.platform.connections import connect_redis
    from netflix_clone.recommendation_service.adapters.topn_cache import TopNCache
    from netflix_clone.recommendation_service.serving.model_holder import ModelHolder
    from netflix_clone.recommendation_service.serving.warmup import warm_cache

    _protect(args, args.redis_url)
    store = _store(args)
    store.materialize(store.current_version())  # a missing model or registry fails here, with its own error
    holder = ModelHolder(store)
    if not holder.reload_if_changed():
        raise ModelError(f"no usable model in {redact_url(_model_uri(args))}: {holder.last_error}")
    cache = TopNCache(connect_redis(args.redis_url), prefix=args.cache_prefix, ttl_s=args.cache_ttl)
    try:
        report = warm_cache(holder.current, cache, top_users=args.top_users, n=args.n, progress=_progress("warm-up"))
    except redis.exceptions.RedisError as exc:
        raise Failed(f"Redis failed during the warm-up: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    _emit(
        args,
        {**report.as_dict(), "model_uri": redact_url(_model_uri(args))},
        f"cached top-{report.n} for {report.users} users of model {report.model_version} in {report.seconds:.1f}s",
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.serving.server import ServeConfig, default_workers
    from netflix_clone.recommendation_service.serving.server import run as serve

    _protect(args, args.redis_url)
    serve(
        ServeConfig(
            model_uri=_model_uri(args),
            host=args.host,
            port=args.port,
            workers=args.workers or default_workers(),
            redis_url=args.redis_url,
            redis_timeout_s=args.redis_timeout,
            cache_ttl=args.cache_ttl,
            cache_prefix=args.cache_prefix,
            cold_start=args.cold_start,
            reload_interval=args.reload_interval,
            max_body_bytes=args.max_body_bytes,
            model_cache_dir=args.model_cache_dir,
            metrics_dir=args.metrics_dir,
        )
    )
    return 0


def cmd_synthesize(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.synthetic import synthetic_history

    with _rejecting_unusable_input():
        history = synthetic_history(users=args.users, items=args.items, sessions_per_user=args.sessions, seed=args.seed)
    write_history_csv(history, Path(args.out))
    _emit(
        args,
        {"out": args.out, "rows": len(history)},
        f"wrote {len(history)} viewing records to {args.out}",
    )
    return 0


def write_history_csv(history: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "title_id", "completion", "started_at"])
        writer.writerows(
            zip(
                history.user_id.tolist(),
                history.title_id.tolist(),
                history.completion.tolist(),
                history.started_at.tolist(),
            )
        )


def cmd_quickstart(args: argparse.Namespace) -> int:
    """Synthesize history, train (with evaluation), load the model and ask it for recommendations."""
    from netflix_clone.recommendation_service.serving.model_holder import ModelHolder

    started = time.perf_counter()
    out = Path(args.out)
    history_path = out / "viewing_history.csv"
    args.history = str(history_path)
    synth = argparse.Namespace(
        out=str(history_path),
        users=args.users,
        items=args.items,
        sessions=30,
        seed=args.seed,
        json=False,
    )
    cmd_synthesize(synth)
    train_args = argparse.Namespace(
        **{
            **vars(args),
            "model_dir": str(out / "models"),
            "skip_eval": False,
            "ann_threshold": 100_000,
            "catalog": None,
            "publish": None,
            "json": False,
        }
    )
    cmd_train(train_args)
    holder = ModelHolder(out / "models")
    holder.reload_if_changed()
    rec = holder.current
    known_user = str(rec.model.user_ids[0])
    examples = {
        known_user: rec.recommend(known_user, 5).__dict__,
        "new-user": rec.recommend("new-user", 5).__dict__,
        f"similar to {rec.model.item_ids[0]}": rec.similar(str(rec.model.item_ids[0]), 5).__dict__,
    }
    payload = {
        "out": str(out),
        "model": rec.version,
        "offline_metrics": rec.model.metadata.get("offline_metrics"),
        "examples": examples,
        "seconds": round(time.perf_counter() - started, 2),
    }
    human = "\n".join(f"{who}: {', '.join(r['items'])} ({r['strategy']})" for who, r in examples.items())
    _emit(
        args,
        payload,
        f"{human}\nquickstart finished in {payload['seconds']}s; everything is under {out}",
    )
    return 0


def _add_model_location(p: argparse.ArgumentParser, settings: RecoSettings) -> None:
    add_option(p, "--model-dir", settings, "model_dir")
    add_option(p, "--model-uri", settings, "model_uri")
    add_option(p, "--model-cache-dir", settings, "model_cache_dir")


def _add_cache(p: argparse.ArgumentParser, settings: RecoSettings) -> None:
    add_option(p, "--cache-ttl", settings, "cache_ttl_s", type=int)
    add_option(p, "--cache-prefix", settings, "cache_prefix")


def _environment_help() -> str:
    lines = ["environment (each flag's default; flags win):"]
    lines += [f"  {var.name:<26} {var.description}" for var in env_vars(RecoSettings)]
    return "\n".join(lines)


def build_parser(settings: RecoSettings, redactor: Optional[Redactor] = None) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=PROG, description=__doc__, epilog=_environment_help())
    add_option(parser, "--log-level", settings, "log_level", type=str.upper)
    parser.set_defaults(redactor=redactor)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        p.add_argument("--json", action="store_true", help="print one JSON document (failures too: outcome, exit_code)")
        return p

    p = add("train", "train a model and publish it as the CURRENT version")
    _add_training_args(p, settings)
    add_option(p, "--model-dir", settings, "model_dir")
    p.add_argument(
        "--ann-threshold", type=int, default=100_000, help="catalog size from which HNSW is used (default 100000)"
    )
    p.add_argument("--skip-eval", action="store_true", help="skip the held-out evaluation stored in metadata")
    add_option(p, "--publish", settings, "publish_uri")
    add_option(p, "--catalog", settings, "catalog")
    p.set_defaults(func=cmd_train)

    p = add("evaluate", "ALS against popularity on held-out data")
    _add_training_args(p, settings)
    p.add_argument(
        "--split", choices=["random", "temporal", "both"], default="both", help="held-out split (default both)"
    )
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of sessions held out (default 0.2)")
    p.add_argument("--k", type=int, default=10, help="list length the metrics are computed at (default 10)")
    p.set_defaults(func=cmd_evaluate)

    p = add("serve", "serve the CURRENT model over HTTP, hot-reloading new versions")
    _add_model_location(p, settings)
    add_option(p, "--host", settings, "host")
    add_option(p, "--port", settings, "port", type=int)
    add_option(p, "--workers", settings, "workers", type=int)
    add_option(p, "--redis-url", settings, "redis_url", help="Redis of the top-N cache (unset: no cache)")
    add_option(p, "--redis-timeout", settings, "redis_timeout_s", type=float)
    _add_cache(p, settings)
    add_option(p, "--cold-start", settings, "cold_start", choices=["popularity", "trending"])
    add_option(p, "--reload-interval", settings, "reload_interval_s", type=float)
    add_option(p, "--max-body-bytes", settings, "max_body_bytes", type=int)
    p.set_defaults(func=cmd_serve, metrics_dir=settings.prometheus_multiproc_dir)

    p = add("warm-cache", "precompute top-N for the most active users into Redis")
    _add_model_location(p, settings)
    add_option(p, "--redis-url", settings, "redis_url", help=f"Redis of the top-N cache (unset: {WARM_CACHE_REDIS})")
    p.set_defaults(redis_url=settings.redis_url or WARM_CACHE_REDIS)
    _add_cache(p, settings)
    p.add_argument("--top-users", type=int, default=10_000, help="how many of the most active users (default 10000)")
    p.add_argument("--n", type=int, default=10, help="list length cached per user (default 10)")
    p.set_defaults(func=cmd_warm_cache)

    p = add("inspect", "print a model's metadata")
    _add_model_location(p, settings)
    p.add_argument("--version", default=None, help="the version to show (default: CURRENT)")
    p.set_defaults(func=cmd_inspect)

    p = add("synthesize", "write synthetic viewing history with planted genre structure")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--users", type=int, default=2000, help="users (default 2000)")
    p.add_argument("--items", type=int, default=1000, help="titles (default 1000)")
    p.add_argument("--sessions", type=int, default=30, help="sessions per user (default 30)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.set_defaults(func=cmd_synthesize)

    p = add("quickstart", "synthesize data, evaluate, train, load and query, on local files only")
    p.add_argument("--out", default="out/recommendation-quickstart", help="where everything is written")
    p.add_argument("--users", type=int, default=2000, help="synthetic users (default 2000)")
    p.add_argument("--items", type=int, default=1000, help="synthetic titles (default 1000)")
    p.add_argument("--factors", type=int, default=None, help="fix the factor count (default: tuned)")
    p.add_argument("--regularization", type=float, default=None, help="fix the ridge term (default: tuned)")
    p.add_argument("--alpha", type=float, default=None, help="fix the confidence scaling (default: tuned)")
    p.add_argument("--tune-budget", type=float, default=30.0, help="seconds of parameter search (default 30)")
    p.add_argument("--no-tune", action="store_true", help=f"no search: the fixed defaults {FIXED_DEFAULTS}")
    _add_als_run_args(p)
    p.set_defaults(func=cmd_quickstart)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    redactor = Redactor.from_environment()
    return run(PROG, argv, lambda settings: build_parser(settings, redactor), RecoSettings, redactor=redactor)


if __name__ == "__main__":
    sys.exit(main())
