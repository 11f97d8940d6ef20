"""recommendation-service command line: train, evaluate, serve, warm-cache, inspect, synthesize, quickstart.

Every command prints a human summary, or one JSON document with --json (for CI). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

from netflix_clone.platform.logging import configure_logging
from netflix_clone.platform.redaction import Redactor, redact_url

__all__ = ["main"]


def _progress(label: str) -> Any:
    def report(done: int, total: int, seconds: float) -> None:
        print(f"{label}: {done}/{total} ({seconds:.1f}s)", file=sys.stderr, flush=True)

    return report


def _emit(args: argparse.Namespace, payload: dict[str, Any], human: str) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        print(human)


# The fixed parameters used by --no-tune (and as the starting point the search reports against).
FIXED_DEFAULTS = {"factors": 64, "regularization": 0.05, "alpha": 20.0}


def _als_params(args: argparse.Namespace) -> Any:
    from netflix_clone.recommendation_service.training import AlsParams

    def pick(name: str) -> Any:
        value = getattr(args, name, None)
        return FIXED_DEFAULTS[name] if value is None else value

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
    from netflix_clone.recommendation_service.tuning import TuningOptions

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


def _add_training_args(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--history", required=True, help="CSV/Parquet file, or a PostgreSQL DSN/URL")
    parser.add_argument("--factors", type=int, default=None, help="fix the factor count (default: tuned)")
    parser.add_argument("--regularization", type=float, default=None, help="fix the ridge term (default: tuned)")
    parser.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="fix the confidence scaling c = 1 + alpha * strength (default: tuned)",
    )
    parser.add_argument(
        "--tune-budget",
        type=float,
        default=float(env("RECO_TUNE_BUDGET_S", "120")),
        help="seconds the parameter search may take (default 120)",
    )
    parser.add_argument(
        "--no-tune",
        action="store_true",
        help=f"no search: the fixed defaults {FIXED_DEFAULTS} for what no flag sets",
    )
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--min-completion", type=float, default=0.05)


def cmd_train(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.adapters.history_sources import read_history
    from netflix_clone.recommendation_service.pipeline import TrainOptions, train_and_save

    history = read_history(args.history)
    dropped = 0
    if args.catalog:
        from netflix_clone.recommendation_service.adapters.catalog_source import read_catalog, restrict_to_catalog

        catalog = read_catalog(args.catalog)
        if not catalog:
            raise SystemExit(f"the catalog {redact_url(args.catalog)} lists no titles")
        history, dropped = restrict_to_catalog(history, set(catalog))
    options = TrainOptions(
        params=_als_params(args),
        min_completion=args.min_completion,
        ann_threshold=args.ann_threshold,
        evaluate=not args.skip_eval,
        tuning=_tuning(args),
    )
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
    from netflix_clone.recommendation_service.evaluation import evaluate

    history = read_history(args.history)
    tuning = _tuning(args)
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


def _redis_cache(url: str, ttl: int, prefix: str) -> Any:
    from netflix_clone.platform.connections import connect_redis
    from netflix_clone.recommendation_service.adapters.topn_cache import TopNCache

    return TopNCache(connect_redis(url), prefix=prefix, ttl_s=ttl)


def _model_uri(args: argparse.Namespace) -> str:
    """--model-uri (RECO_MODEL_URI: s3://bucket/prefix or a path) wins over --model-dir."""
    return str(getattr(args, "model_uri", None) or args.model_dir)


def _store(args: argparse.Namespace) -> Any:
    from netflix_clone.recommendation_service.adapters.registry import open_store

    cache_dir = getattr(args, "model_cache_dir", None)
    return open_store(_model_uri(args), cache_dir=Path(cache_dir) if cache_dir else None)


def cmd_warm_cache(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.serving import ModelHolder
    from netflix_clone.recommendation_service.warmup import warm_cache

    holder = ModelHolder(_store(args))
    if not holder.reload_if_changed():
        raise SystemExit(
            f"recommendation-service warm-cache: error: no usable model in "
            f"{redact_url(_model_uri(args))}: {holder.last_error}"
        )
    cache = _redis_cache(args.redis_url, args.cache_ttl, args.cache_prefix)
    report = warm_cache(holder.current, cache, top_users=args.top_users, n=args.n, progress=_progress("warm-up"))
    _emit(
        args,
        {**report.as_dict(), "model_uri": redact_url(_model_uri(args))},
        f"cached top-{report.n} for {report.users} users of model " f"{report.model_version} in {report.seconds:.1f}s",
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.server import ServeConfig, run

    run(
        ServeConfig(
            model_uri=_model_uri(args),
            host=args.host,
            port=args.port,
            workers=args.workers,
            redis_url=args.redis_url,
            redis_timeout_s=args.redis_timeout,
            cache_ttl=args.cache_ttl,
            cache_prefix=args.cache_prefix,
            cold_start=args.cold_start,
            reload_interval=args.reload_interval,
            max_body_bytes=args.max_body_bytes,
            model_cache_dir=args.model_cache_dir,
        )
    )
    return 0


def cmd_synthesize(args: argparse.Namespace) -> int:
    from netflix_clone.recommendation_service.synthetic import synthetic_history

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
    from netflix_clone.recommendation_service.serving import ModelHolder

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


def _add_model_location(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument("--model-dir", default=env("RECO_MODEL_DIR", "var/models"))
    p.add_argument(
        "--model-uri",
        default=env("RECO_MODEL_URI"),
        help="model registry: s3://bucket/prefix or a local model root (wins over --model-dir)",
    )
    p.add_argument(
        "--model-cache-dir",
        default=env("RECO_MODEL_CACHE_DIR"),
        help="where versions read from S3 are kept (default: a directory under the temp dir)",
    )


def build_parser() -> argparse.ArgumentParser:
    from netflix_clone.recommendation_service.server import default_workers

    parser = argparse.ArgumentParser(prog="recommendation-service", description=__doc__)
    parser.add_argument("--log-level", default=os.environ.get("RECO_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)
    env = os.environ.get

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="print one JSON document")
        return p

    p = add("train", "train a model and publish it as the CURRENT version")
    _add_training_args(p)
    p.add_argument("--model-dir", default=env("RECO_MODEL_DIR", "var/models"))
    p.add_argument("--ann-threshold", type=int, default=100_000, help="catalog size from which HNSW is used")
    p.add_argument("--skip-eval", action="store_true", help="skip the held-out evaluation stored in metadata")
    p.add_argument(
        "--publish",
        default=env("RECO_PUBLISH_URI"),
        help="also upload the version to s3://bucket/prefix and point its CURRENT at it",
    )
    p.add_argument(
        "--catalog",
        default=env("RECO_CATALOG"),
        help="video-processor's catalog (SQLite path or PostgreSQL DSN): train on published titles only",
    )
    p.set_defaults(fn=cmd_train)

    p = add("evaluate", "ALS against popularity on held-out data")
    _add_training_args(p)
    p.add_argument("--split", choices=["random", "temporal", "both"], default="both")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--k", type=int, default=10)
    p.set_defaults(fn=cmd_evaluate)

    p = add("serve", "serve the CURRENT model over HTTP, hot-reloading new versions")
    _add_model_location(p)
    p.add_argument("--host", default=env("RECO_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("RECO_PORT", "8000")))
    p.add_argument(
        "--workers",
        type=int,
        default=int(env("RECO_WORKERS", "0")) or default_workers(),
        help="worker processes sharing the port and the memory-mapped model (default: the CPUs)",
    )
    p.add_argument("--redis-url", default=env("RECO_REDIS_URL"), help="enables the top-N cache")
    p.add_argument(
        "--redis-timeout",
        type=float,
        default=float(env("RECO_REDIS_TIMEOUT_S", "0.25")),
        help="seconds a cache call may take before the list is computed uncached",
    )
    p.add_argument("--cache-ttl", type=int, default=int(env("RECO_CACHE_TTL_S", "3600")))
    p.add_argument("--cache-prefix", default=env("RECO_CACHE_PREFIX", "reco:"))
    p.add_argument("--cold-start", choices=["popularity", "trending"], default="popularity")
    p.add_argument("--reload-interval", type=float, default=5.0)
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(env("RECO_MAX_BODY_BYTES", str(1 << 20))),
        help="larger request bodies get 413 before they are read (default 1 MB)",
    )
    p.set_defaults(fn=cmd_serve)

    p = add("warm-cache", "precompute top-N for the most active users into Redis")
    _add_model_location(p)
    p.add_argument("--redis-url", default=env("RECO_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--cache-ttl", type=int, default=int(env("RECO_CACHE_TTL_S", "3600")))
    p.add_argument("--cache-prefix", default=env("RECO_CACHE_PREFIX", "reco:"))
    p.add_argument("--top-users", type=int, default=10_000)
    p.add_argument("--n", type=int, default=10)
    p.set_defaults(fn=cmd_warm_cache)

    p = add("inspect", "print a model's metadata")
    _add_model_location(p)
    p.add_argument("--version", default=None, help="default: CURRENT")
    p.set_defaults(fn=cmd_inspect)

    p = add("synthesize", "write synthetic viewing history with planted genre structure")
    p.add_argument("--out", required=True)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--sessions", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(fn=cmd_synthesize)

    p = add("quickstart", "synthesize data, evaluate, train, load and query, on local files only")
    p.add_argument("--out", default="out/recommendation-quickstart")
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--factors", type=int, default=None)
    p.add_argument("--regularization", type=float, default=None)
    p.add_argument("--alpha", type=float, default=None)
    p.add_argument("--tune-budget", type=float, default=30.0)
    p.add_argument("--no-tune", action="store_true")
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1))
    p.add_argument("--min-completion", type=float, default=0.05)
    p.set_defaults(fn=cmd_quickstart)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    from netflix_clone.recommendation_service.adapters.history_sources import HistoryError
    from netflix_clone.recommendation_service.domain.model import ModelError

    args = build_parser().parse_args(argv)
    configure_logging("recommendation-service", level=args.log_level)
    try:
        return int(args.fn(args))
    except (HistoryError, ModelError, ValueError, FileExistsError, ConnectionError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        redactor = Redactor.from_environment()
        for value in (getattr(args, "history", None), getattr(args, "catalog", None)):
            if value and value != redact_url(value):
                redactor.add(value)
        print(
            f"recommendation-service {args.command}: error: {redactor.redact(redact_url(message))}",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
