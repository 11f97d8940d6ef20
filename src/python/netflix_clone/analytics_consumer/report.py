"""The QoE report use case: QoE by CDN and by device from the SQLite sink's ``sessions`` table.

Rates over a group are taken the way the rest of the service takes them: the rebuffering ratio of the
group's summed stall and play time (``domain/qoe.py``), the failure rate as the share of failed sessions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from netflix_clone.analytics_consumer.domain.qoe import rebuffering_ratio
from netflix_clone.analytics_consumer.errors import InputNotFound

__all__ = ["DIMENSIONS", "format_report", "qoe_report"]

DIMENSIONS = ("cdn", "device")


def qoe_report(path: Path) -> dict[str, Any]:
    """``{"by_cdn": [...], "by_device": [...], "sessions": N}`` of the SQLite sink at ``path``."""
    if not path.exists():
        raise InputNotFound(f"no sessions database at {path}")
    db = sqlite3.connect(path)
    report: dict[str, Any] = {}
    try:
        for dimension in DIMENSIONS:
            rows = db.execute(
                f"SELECT {dimension}, COUNT(*), AVG(qoe_score), AVG(startup_ms), "  # nosec B608 - fixed names
                "SUM(stall_ms), SUM(play_ms), AVG(avg_bitrate_kbps), "
                "AVG(CASE WHEN start_failure OR playback_failure THEN 1.0 ELSE 0.0 END) "
                f"FROM sessions GROUP BY {dimension} ORDER BY {dimension}"
            ).fetchall()
            report[f"by_{dimension}"] = [
                {
                    dimension: r[0],
                    "sessions": r[1],
                    "qoe_score": round(r[2], 1) if r[2] is not None else None,
                    "startup_ms": round(r[3]) if r[3] is not None else None,
                    "rebuffering_ratio": round(rebuffering_ratio(r[4] or 0, r[5] or 0), 4),
                    "avg_bitrate_kbps": round(r[6]) if r[6] is not None else None,
                    "failure_rate": round(r[7], 4),
                }
                for r in rows
            ]
        report["sessions"] = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise InputNotFound(f"{path} holds no sessions table: {exc}") from exc
    finally:
        db.close()
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as text, a line per group.

    >>> row = {"cdn": "cdn-a", "sessions": 2, "qoe_score": 96.3, "startup_ms": 1500,
    ...        "rebuffering_ratio": 0.011, "avg_bitrate_kbps": 4500, "failure_rate": 0.0}
    >>> print(format_report({"by_cdn": [row], "by_device": []}))
    QoE by cdn:
      cdn-a           2 sessions  score 96.3  startup 1500 ms  rebuffering 1.10%  bitrate 4500 kbps  failures 0.0%
    QoE by device:
    """
    lines = []
    for dimension in DIMENSIONS:
        lines.append(f"QoE by {dimension}:")
        for r in report[f"by_{dimension}"]:
            lines.append(
                f"  {str(r[dimension]):<10} {r['sessions']:>6} sessions  score {r['qoe_score']}  "
                f"startup {r['startup_ms']} ms  rebuffering {r['rebuffering_ratio']:.2%}  "
                f"bitrate {r['avg_bitrate_kbps']} kbps  failures {r['failure_rate']:.1%}"
            )
    return "\n".join(lines)
