"""Poster, interval thumbnails, sprite sheet and WebVTT track, decoded with PyAV and drawn with Pillow."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import av
import numpy as np
from PIL import Image

from netflix_clone.video_processor.domain.ladder import even
from netflix_clone.video_processor.domain.thumbnails import (
    FrameStats,
    choose_poster,
    render_thumbnails_vtt,
    sprite_layout,
)

__all__ = ["ThumbnailOptions", "ThumbnailSet", "make_thumbnails"]


@dataclass(frozen=True)
class ThumbnailOptions:
    interval_s: float = 10.0
    tile_width: int = 160
    columns: int = 10
    poster_candidates: int = 12
    poster_max_width: int = 1280
    jpeg_quality: int = 85


@dataclass(frozen=True)
class ThumbnailSet:
    poster: str
    poster_time_s: float
    poster_mean_luma: float
    sprite: str
    vtt: str
    thumbnails: tuple[str, ...]

    def as_dict(self, root: str) -> dict[str, Any]:
        def rel(path: str) -> str:
            return os.path.relpath(path, root)

        return {
            "poster": rel(self.poster),
            "poster_time_s": round(self.poster_time_s, 3),
            "poster_mean_luma": round(self.poster_mean_luma, 1),
            "sprite": rel(self.sprite),
            "vtt": rel(self.vtt),
            "count": len(self.thumbnails),
        }


def _frame_at(container: Any, stream: Any, t: float) -> Optional[Any]:
    """The first decoded frame at or after ``t`` seconds (keyframe seek, then decode forward)."""
    container.seek(
        int(max(0.0, t) / stream.time_base) if stream.time_base else 0,
        stream=stream,
        any_frame=False,
        backward=True,
    )
    last = None
    for frame in container.decode(stream):
        last = frame
        if frame.time is not None and frame.time + 1e-3 >= t:
            return frame
    return last


def _image(frame: Any) -> Image.Image:
    image: Image.Image = frame.to_image()
    rotation = int(round(float(getattr(frame, "rotation", 0) or 0))) % 360
    if rotation:
        # PyAV hands frames over as stored; turn them as ffmpeg's autorotate would.
        image = image.rotate(rotation, expand=True)
    return image


def _stats(image: Image.Image, t: float) -> FrameStats:
    luma = np.asarray(image.convert("L"), dtype=np.float32)
    return FrameStats(time_s=t, mean=float(luma.mean()), std=float(luma.std()))


def make_thumbnails(source: str, duration_s: float, out_dir: str, options: ThumbnailOptions) -> ThumbnailSet:
    os.makedirs(os.path.join(out_dir, "thumbs"), exist_ok=True)
    with av.open(source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # Poster: the most detailed, well-exposed frame among candidates spread over 5 %..60 % of
        # the title (openings are often black or a logo; endings are credits).
        candidates: list[tuple[FrameStats, Image.Image]] = []
        n = max(1, options.poster_candidates)
        for i in range(n):
            t = duration_s * (0.05 + 0.55 * i / max(1, n - 1))
            frame = _frame_at(container, stream, t)
            if frame is not None:
                image = _image(frame)
                candidates.append((_stats(image, float(frame.time or t)), image))
        if not candidates:
            raise ValueError(f"no decodable frames in {source}")
        best = choose_poster([c[0] for c in candidates])
        poster_image = next(img for stats, img in candidates if stats is best)
        if poster_image.width > options.poster_max_width:
            scale = options.poster_max_width / poster_image.width
            poster_image = poster_image.resize(
                (options.poster_max_width, even(poster_image.height * scale)),
                Image.Resampling.LANCZOS,
            )
        poster = os.path.join(out_dir, "poster.jpg")
        poster_image.save(poster, "JPEG", quality=options.jpeg_quality, optimize=True)

        tile_w = options.tile_width
        tile_h = even(tile_w * poster_image.height / poster_image.width)
        # Short clips get at least ten tiles, so scrubbing previews stay useful.
        interval = options.interval_s if duration_s >= 10 * options.interval_s else max(0.5, duration_s / 10)
        tiles, sheet_size = sprite_layout(duration_s, interval, tile_w, tile_h, options.columns)
        sheet = Image.new("RGB", sheet_size)
        paths = []
        for i, tile in enumerate(tiles):
            frame = _frame_at(container, stream, tile.start_s)
            if frame is None:
                continue
            thumb = _image(frame).resize((tile_w, tile_h), Image.Resampling.BILINEAR)
            path = os.path.join(out_dir, "thumbs", f"thumb_{i:05d}.jpg")
            thumb.save(path, "JPEG", quality=options.jpeg_quality)
            paths.append(path)
            sheet.paste(thumb, (tile.x, tile.y))
    sprite = os.path.join(out_dir, "sprite.jpg")
    sheet.save(sprite, "JPEG", quality=options.jpeg_quality, optimize=True)
    vtt = os.path.join(out_dir, "thumbnails.vtt")
    with open(vtt, "w", encoding="utf-8") as handle:
        handle.write(render_thumbnails_vtt(tiles, "sprite.jpg"))
    return ThumbnailSet(poster, best.time_s, best.mean, sprite, vtt, tuple(paths))
