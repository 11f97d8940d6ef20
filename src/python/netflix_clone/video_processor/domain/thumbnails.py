"""Poster choice, sprite-sheet layout and the WebVTT thumbnails track: the arithmetic, no images."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "FrameStats",
    "SpriteTile",
    "choose_poster",
    "format_vtt_time",
    "render_thumbnails_vtt",
    "sprite_layout",
]


@dataclass(frozen=True)
class FrameStats:
    """Luma statistics of one decoded frame, on a 0-255 scale."""

    time_s: float
    mean: float
    std: float

    @property
    def usable(self) -> bool:
        """Not black (fades, leaders), not blown out, not a flat slate."""
        return 24.0 <= self.mean <= 232.0 and self.std >= 12.0

    @property
    def score(self) -> float:
        # Detail (contrast) matters most; mid-grey exposure breaks ties between detailed frames.
        return self.std - 0.1 * abs(self.mean - 128.0)


def choose_poster(frames: list[FrameStats]) -> FrameStats:
    """The best usable frame; if none is usable, the most detailed one (a dark title is still a title)."""
    if not frames:
        raise ValueError("no frames to choose a poster from")
    usable = [f for f in frames if f.usable]
    return max(usable or frames, key=lambda f: (f.score, -f.time_s))


@dataclass(frozen=True)
class SpriteTile:
    start_s: float
    end_s: float
    x: int
    y: int
    width: int
    height: int


def sprite_layout(
    duration_s: float, interval_s: float, tile_width: int, tile_height: int, columns: int
) -> tuple[list[SpriteTile], tuple[int, int]]:
    """Tiles row-major, one per interval; returns (tiles, (sheet width, sheet height))."""
    if duration_s <= 0 or interval_s <= 0 or columns < 1:
        raise ValueError("duration, interval and columns must be positive")
    # Float durations (6.000000001 s / 0.6 s) must not add an empty trailing cue.
    count = max(1, math.ceil(duration_s / interval_s - 1e-6))
    tiles = []
    for i in range(count):
        row, col = divmod(i, columns)
        tiles.append(
            SpriteTile(
                start_s=i * interval_s,
                end_s=min(duration_s, (i + 1) * interval_s),
                x=col * tile_width,
                y=row * tile_height,
                width=tile_width,
                height=tile_height,
            )
        )
    rows = -(-count // columns)
    return tiles, (min(count, columns) * tile_width, rows * tile_height)


def format_vtt_time(seconds: float) -> str:
    """WebVTT's ``hh:mm:ss.ttt``.

    >>> format_vtt_time(3725.5)
    '01:02:05.500'
    """
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def render_thumbnails_vtt(tiles: list[SpriteTile], sprite_uri: str) -> str:
    """A WebVTT track whose cues point into the sprite with media fragments (``#xywh=``)."""
    lines = ["WEBVTT", ""]
    for tile in tiles:
        lines.append(f"{format_vtt_time(tile.start_s)} --> {format_vtt_time(tile.end_s)}")
        lines.append(f"{sprite_uri}#xywh={tile.x},{tile.y},{tile.width},{tile.height}")
        lines.append("")
    return "\n".join(lines)
