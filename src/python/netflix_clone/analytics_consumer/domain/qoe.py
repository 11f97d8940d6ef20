"""Per-session Quality of Experience metrics and a 0-100 score.

Definitions (CTA-2066 / Conviva / Mux families; times from client timestamps, in ms):

- video startup time (VST) = first_frame.ts - play_request.ts
- exit before video start (EBVS): the session closed without a first frame and without a fatal error
- video start failure (VSF): a fatal error before the first frame
- video playback failure (VPF): a fatal error after the first frame
- play time: time in the playing state after the first frame (pauses and stalls excluded)
- rebuffering: stalls after the first frame with cause "network"; seek stalls are excluded
- rebuffering ratio = network stall time / (network stall time + play time)
- time-weighted average bitrate = sum(bitrate x time played at it) / play time
- bitrate switches: rendition changes to a different bitrate after the first frame
- completion = furthest position reached / title duration, clipped to [0, 1]

Worked example: request at 0, first frame at 1 500 (VST 1.5 s), 3 000 kbps until 61 500, one network stall
61 500-63 500, 6 000 kbps until 121 500, end. Play time 120 s, stall 2 s, rebuffering ratio 2/122 = 0.0164,
average bitrate (3000*60 + 6000*60)/120 = 4500 kbps, one switch.

QoE score: the MOS model of Mok, Chan & Chang, "Measuring the Quality of Experience of HTTP Video
Streaming" (IFIP/IEEE IM 2011): MOS = 4.23 - 0.0672 L_ti - 0.742 L_fr - 0.106 L_tr, where each level is
0, 1 or 2:
  L_ti (initial buffering):   VST <= 1 s -> 0, <= 5 s -> 1, else 2
  L_fr (rebuffer frequency):  network stalls per second played <= 0.02 -> 0, <= 0.15 -> 1, else 2
  L_tr (mean stall duration): < 5 s -> 0, < 10 s -> 1, else 2
and scaled to 0-100 over the model's own range: score = 100 (MOS - MOS_min) / (4.23 - MOS_min),
MOS_min = 4.23 - 2 (0.0672 + 0.742 + 0.106). A session that failed (VSF or VPF) scores 0; an exit before
video start has no score (nobody watched anything). The example above: L_ti 1, L_fr 0 (1/120 s), L_tr 0:
MOS 4.1628, score 96.33. The model ignores bitrate, which is reported on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["MOS_MAX", "MOS_MIN", "QoeInputs", "mos", "qoe_score", "rebuffering_ratio", "rebuffering_ratio_sql"]

MOS_MAX = 4.23
_W_TI, _W_FR, _W_TR = 0.0672, 0.742, 0.106
MOS_MIN = MOS_MAX - 2 * (_W_TI + _W_FR + _W_TR)


@dataclass(frozen=True)
class QoeInputs:
    startup_ms: Optional[float]
    play_ms: float
    stall_ms: float  # network stalls only
    stall_count: int
    failed: bool
    exited_before_start: bool


def rebuffering_ratio(stall_ms: float, play_ms: float) -> float:
    """Network stall time / (stall time + play time); 0 when there was neither.

    The one definition: a session's row, the real-time view in Redis, the QoE report and the
    PostgreSQL view ``qoe_per_minute`` (through :func:`rebuffering_ratio_sql`) all use it. Over many
    sessions it is taken of the *sums* (time-weighted), never averaged over sessions:

    >>> rebuffering_ratio(2_000, 120_000)
    0.01639344262295082
    >>> rebuffering_ratio(0, 0)
    0.0
    >>> sessions = [(2_000, 120_000), (0, 60_000)]
    >>> round(rebuffering_ratio(sum(s for s, _ in sessions), sum(p for _, p in sessions)), 6)
    0.010989
    """
    total = stall_ms + play_ms
    return 0.0 if total <= 0 else stall_ms / total


def rebuffering_ratio_sql(stall_ms: str, play_ms: str) -> str:
    """:func:`rebuffering_ratio` as a SQL expression over two SQL expressions (PostgreSQL; tested equal).

    >>> print(rebuffering_ratio_sql("sum(stall_ms)", "sum(play_ms)"))
    coalesce((sum(stall_ms))::double precision / nullif((sum(stall_ms)) + (sum(play_ms)), 0), 0.0)
    """
    return f"coalesce(({stall_ms})::double precision / nullif(({stall_ms}) + ({play_ms}), 0), 0.0)"


def _level(value: float, low: float, high: float, *, inclusive: bool = True) -> int:
    if (value <= low) if inclusive else (value < low):
        return 0
    if (value <= high) if inclusive else (value < high):
        return 1
    return 2


def mos(inputs: QoeInputs) -> float:
    l_ti = _level((inputs.startup_ms or 0.0) / 1000.0, 1.0, 5.0)
    played_s = inputs.play_ms / 1000.0
    frequency = inputs.stall_count / played_s if played_s > 0 else (float("inf") if inputs.stall_count else 0.0)
    l_fr = _level(frequency, 0.02, 0.15)
    mean_stall_s = inputs.stall_ms / inputs.stall_count / 1000.0 if inputs.stall_count else 0.0
    l_tr = _level(mean_stall_s, 5.0, 10.0, inclusive=False)
    return MOS_MAX - _W_TI * l_ti - _W_FR * l_fr - _W_TR * l_tr


def qoe_score(inputs: QoeInputs) -> Optional[float]:
    if inputs.failed:
        return 0.0
    if inputs.exited_before_start:
        return None
    return round(100.0 * (mos(inputs) - MOS_MIN) / (MOS_MAX - MOS_MIN), 2)
