"""Player simulator: network throughput traces -> buffer model -> the events a real player would send.

Per session: a throughput trace (log-normal random walk around the network profile's mean), a
throughput-rule ABR (highest rung <= 0.8 x smoothed throughput), segment-by-segment downloads that fill a
buffer which playback drains; an empty buffer is a stall. Viewers abandon when startup exceeds their
patience or stalls pile up; a small share of sessions fail to start or fail mid-play. Deterministic under
a seed. Used by tests, the benchmark, the crash test and demos (``analytics-tools simulate``); a tool,
not part of the analytics-consumer image.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Optional

from netflix_clone.contracts.player_events import (
    SCHEMA_VERSION,
    End,
    Error,
    FirstFrame,
    Heartbeat,
    PlayerEvent,
    PlayRequest,
    RenditionChange,
    StallEnd,
    StallStart,
)

__all__ = ["LADDER_KBPS", "NETWORKS", "Network", "simulate_population", "simulate_session"]

LADDER_KBPS = (
    (235, 416, 234),
    (750, 640, 360),
    (1750, 960, 540),
    (3000, 1280, 720),
    (4300, 1920, 1080),
    (5800, 1920, 1080),
)
SEGMENT_S = 4.0


@dataclass(frozen=True)
class Network:
    name: str
    mean_kbps: float
    volatility: float  # log-space step standard deviation per segment
    rtt_ms: float


NETWORKS = {
    "fiber": Network("fiber", 60_000, 0.05, 15),
    "cable": Network("cable", 15_000, 0.15, 30),
    "4g": Network("4g", 6_000, 0.35, 60),
    "3g": Network("3g", 1_200, 0.45, 150),
}


def simulate_session(
    rng: random.Random,
    *,
    sid: str,
    user_id: str,
    title_id: str,
    duration_s: float,
    start_ms: int,
    network: Network,
    device: str = "web",
    country: str = "US",
    cdn: str = "cdn-a",
) -> list[PlayerEvent]:
    events: list[PlayerEvent] = []
    seq = 0

    def emit(cls: type, ts: float, **fields: object) -> None:
        nonlocal seq
        events.append(cls(v=SCHEMA_VERSION, sid=sid, seq=seq, ts=int(ts), **fields))
        seq += 1

    t = float(start_ms)
    emit(
        PlayRequest,
        t,
        user_id=user_id,
        cid=title_id,
        device=device,
        country=country,
        cdn=cdn,
        duration_s=duration_s,
    )
    if rng.random() < 0.01:  # start failure: e.g. DRM licence or manifest error
        emit(Error, t + rng.uniform(200, 3000), code="MANIFEST_404", fatal=True, category="technical")
        return events

    throughput = network.mean_kbps * math.exp(rng.gauss(0, 0.3))
    smoothed = throughput
    patience_s = rng.uniform(3.0, 12.0)
    watch_target_s = duration_s * min(1.0, rng.betavariate(1.2, 1.0) + 0.05)
    fail_at_s = rng.uniform(0, watch_target_s) if rng.random() < 0.005 else None

    # Startup: fetch two segments at the lowest-but-safe rung.
    rung = _pick(smoothed * 0.5)
    t += network.rtt_ms * 2
    emit(
        RenditionChange,
        t,
        br=LADDER_KBPS[rung][0],
        width=LADDER_KBPS[rung][1],
        height=LADDER_KBPS[rung][2],
    )
    for _ in range(2):
        throughput = _step(rng, network, throughput)
        t += LADDER_KBPS[rung][0] * SEGMENT_S / throughput * 1000 + network.rtt_ms
    if (t - start_ms) / 1000 > patience_s:
        emit(End, t, pos_ms=0)  # exit before video start
        return events
    emit(FirstFrame, t)

    buffer_s, position_s, stalls, next_heartbeat = 2 * SEGMENT_S, 0.0, 0, 10.0
    while position_s < watch_target_s:
        throughput = _step(rng, network, throughput)
        smoothed = 0.7 * smoothed + 0.3 * throughput
        new_rung = _pick(smoothed * 0.8)
        if new_rung != rung:
            rung = new_rung
            emit(
                RenditionChange,
                t,
                br=LADDER_KBPS[rung][0],
                width=LADDER_KBPS[rung][1],
                height=LADDER_KBPS[rung][2],
            )
        download_s = LADDER_KBPS[rung][0] * SEGMENT_S / throughput + network.rtt_ms / 1000
        if download_s > buffer_s:  # the buffer runs dry while this segment downloads
            position_s += buffer_s
            t += buffer_s * 1000
            emit(StallStart, t, cause="network")
            stall_s = download_s - buffer_s
            t += stall_s * 1000
            emit(StallEnd, t)
            stalls += 1
            buffer_s = SEGMENT_S
            if stalls >= 3 and rng.random() < 0.3:  # fed up
                break
        else:
            position_s += download_s
            t += download_s * 1000
            buffer_s += SEGMENT_S - download_s
        # A full buffer (30 s) idles the downloader: playback continues without downloading.
        if buffer_s > 30:
            idle = buffer_s - 30
            position_s += idle
            t += idle * 1000
            buffer_s = 30
        while position_s >= next_heartbeat:
            emit(
                Heartbeat,
                t,
                pos_ms=int(position_s * 1000),
                bl=int(buffer_s * 1000),
                mtp=int(throughput),
            )
            next_heartbeat += 10.0
        if fail_at_s is not None and position_s >= fail_at_s:
            emit(Error, t, code="DECODER_ERROR", fatal=True, category="technical")
            return events
    emit(End, t, pos_ms=int(min(position_s, duration_s) * 1000))
    return events


def _pick(budget_kbps: float) -> int:
    best = 0
    for i, (kbps, _, _) in enumerate(LADDER_KBPS):
        if kbps <= budget_kbps:
            best = i
    return best


def _step(rng: random.Random, network: Network, throughput: float) -> float:
    # Mean-reverting log random walk around the profile mean; floor at 50 kbps.
    log_now, log_mean = math.log(throughput), math.log(network.mean_kbps)
    log_next = log_now + 0.2 * (log_mean - log_now) + rng.gauss(0, network.volatility)
    return max(50.0, math.exp(log_next))


def simulate_population(
    *,
    sessions: int,
    users: int = 200,
    titles: Optional[list[str]] = None,
    seed: int = 1,
    start_ms: int = 1_790_000_000_000,
    spread_s: float = 3600.0,
    taste_clusters: int = 0,
    taste_strength: float = 0.75,
    durations_s: tuple[float, ...] = (1320.0, 2700.0, 5400.0),
) -> list[PlayerEvent]:
    """Events of many sessions, interleaved by timestamp as a stream would carry them.

    Titles are chosen by a Pareto popularity curve. With ``taste_clusters`` > 0 the titles are split
    into that many groups ("genres"), each user prefers one, and ``taste_strength`` of their plays come
    from it - the structure a recommender can learn and popularity alone cannot.
    """
    rng = random.Random(seed)
    catalog = titles or [f"t{i:04d}" for i in range(100)]
    groups = [catalog[g::taste_clusters] for g in range(taste_clusters)] if taste_clusters > 0 else []

    def pick_title(user: int) -> str:
        pool = catalog
        if groups and rng.random() < taste_strength:
            pool = groups[user % len(groups)]
        return pool[min(len(pool) - 1, int(rng.paretovariate(1.2)) - 1)]

    nets = list(NETWORKS.values())
    devices, countries, cdns = (
        ("web", "tv", "ios", "android"),
        ("US", "BR", "DE", "IN"),
        ("cdn-a", "cdn-b"),
    )
    out: list[PlayerEvent] = []
    for i in range(sessions):
        out.extend(
            simulate_session(
                rng,
                sid=f"s{seed}-{i:07d}",
                user_id=f"u{(user := rng.randrange(users)):05d}",
                title_id=pick_title(user),
                duration_s=rng.choice(durations_s),
                start_ms=start_ms + int(rng.uniform(0, spread_s * 1000)),
                network=rng.choices(nets, weights=(3, 5, 3, 1))[0],
                device=rng.choice(devices),
                country=rng.choice(countries),
                cdn=rng.choice(cdns),
            )
        )
    out.sort(key=lambda e: (e.ts, e.sid, e.seq))
    return out
