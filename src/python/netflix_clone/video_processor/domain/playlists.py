"""HLS playlists (RFC 8216): parse what ffmpeg wrote, measure it, write the master playlist ourselves.

ffmpeg's own master playlist states the *requested* bitrates. Players choose variants by BANDWIDTH,
which the specification defines as the peak segment bit rate, so ours is measured from the segments
actually written: BANDWIDTH = the largest segment's bits per second (plus the audio rendition's peak),
AVERAGE-BANDWIDTH = all bits over all seconds (plus the audio's average).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netflix_clone.video_processor.errors import PlaylistError

__all__ = [
    "AudioRendition",
    "MediaPlaylist",
    "PlaylistError",
    "Segment",
    "Variant",
    "measure_bandwidth",
    "parse_attributes",
    "parse_master",
    "parse_media_playlist",
    "render_master",
]


@dataclass(frozen=True)
class Segment:
    uri: str
    duration_s: float


@dataclass(frozen=True)
class MediaPlaylist:
    target_duration: int
    segments: tuple[Segment, ...]
    playlist_type: Optional[str]
    ended: bool
    version: int
    map_uri: Optional[str] = None  # fMP4 initialization segment
    independent_segments: bool = False

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.segments)


def parse_attributes(text: str) -> dict[str, str]:
    """An attribute list (``A=1,B="x,y"``) into a dict, quotes removed.

    >>> parse_attributes('BANDWIDTH=1280000,CODECS="avc1.64001e,mp4a.40.2"')
    {'BANDWIDTH': '1280000', 'CODECS': 'avc1.64001e,mp4a.40.2'}
    """
    attrs: dict[str, str] = {}
    i = 0
    while i < len(text):
        eq = text.index("=", i)
        key = text[i:eq].strip()
        j = eq + 1
        if j < len(text) and text[j] == '"':
            end = text.index('"', j + 1)
            attrs[key] = text[j + 1 : end]
            i = end + 1
        else:
            end = text.find(",", j)
            end = len(text) if end == -1 else end
            attrs[key] = text[j:end]
            i = end
        if i < len(text) and text[i] == ",":
            i += 1
    return attrs


def parse_media_playlist(text: str) -> MediaPlaylist:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not an M3U8 playlist (no #EXTM3U header)")
    target: Optional[int] = None
    version = 1
    playlist_type: Optional[str] = None
    ended = independent = False
    map_uri: Optional[str] = None
    segments: list[Segment] = []
    pending: Optional[float] = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-VERSION:"):
            version = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            playlist_type = line.split(":", 1)[1]
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line == "#EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif line.startswith("#EXT-X-MAP:"):
            map_uri = parse_attributes(line.split(":", 1)[1])["URI"]
        elif line.startswith("#EXTINF:"):
            pending = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line.startswith("#EXT-X-STREAM-INF"):
            raise PlaylistError("this is a master playlist, not a media playlist")
        elif not line.startswith("#"):
            if pending is None:
                raise PlaylistError(f"segment {line!r} has no #EXTINF duration")
            segments.append(Segment(line, pending))
            pending = None
    if target is None:
        raise PlaylistError("media playlist has no #EXT-X-TARGETDURATION")
    for segment in segments:
        # RFC 8216 4.3.3.1: every EXTINF, rounded to the nearest integer, must be <= the target.
        if round(segment.duration_s) > target:
            raise PlaylistError(f"segment {segment.uri} lasts {segment.duration_s} s > target {target} s")
    return MediaPlaylist(target, tuple(segments), playlist_type, ended, version, map_uri, independent)


def measure_bandwidth(playlist: MediaPlaylist, sizes: dict[str, int], init_size: int = 0) -> tuple[int, int]:
    """(peak, average) bits per second over the playlist's segments, given each segment's bytes."""
    if not playlist.segments:
        raise PlaylistError("playlist has no segments")
    peak = 0.0
    total_bits = 8.0 * init_size
    for segment in playlist.segments:
        if segment.uri not in sizes:
            raise PlaylistError(f"segment {segment.uri} is missing")
        bits = 8.0 * sizes[segment.uri]
        total_bits += bits
        # Very short tail segments overstate the rate; Apple measures peaks over whole segments.
        duration = max(segment.duration_s, 0.5 * playlist.target_duration)
        peak = max(peak, bits / duration)
    average = total_bits / playlist.duration_s
    return int(round(max(peak, average))), int(round(average))


@dataclass(frozen=True)
class AudioRendition:
    uri: str
    group_id: str = "aud"
    name: str = "Main"
    language: Optional[str] = None
    channels: int = 2
    peak_bps: int = 0
    average_bps: int = 0


@dataclass(frozen=True)
class Variant:
    uri: str
    peak_bps: int
    average_bps: int
    width: int
    height: int
    frame_rate: float
    codecs: str
    audio_group: Optional[str] = None
    extra: dict[str, str] = field(default_factory=dict)


def render_master(variants: list[Variant], audio: Optional[AudioRendition], fmp4: bool) -> str:
    """Master playlist, variants in ascending BANDWIDTH (the first listed is where playback starts)."""
    if not variants:
        raise PlaylistError("a master playlist needs at least one variant")
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{7 if fmp4 else 6}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        attrs = [
            "TYPE=AUDIO",
            f'GROUP-ID="{audio.group_id}"',
            f'NAME="{audio.name}"',
        ]
        if audio.language and audio.language != "und":
            attrs.append(f'LANGUAGE="{audio.language}"')
        attrs += [
            "DEFAULT=YES",
            "AUTOSELECT=YES",
            f'CHANNELS="{audio.channels}"',
            f'URI="{audio.uri}"',
        ]
        lines.append("#EXT-X-MEDIA:" + ",".join(attrs))
    for variant in sorted(variants, key=lambda v: v.peak_bps):
        peak = variant.peak_bps + (audio.peak_bps if audio else 0)
        average = variant.average_bps + (audio.average_bps if audio else 0)
        attrs = [
            f"BANDWIDTH={peak}",
            f"AVERAGE-BANDWIDTH={average}",
            f"RESOLUTION={variant.width}x{variant.height}",
            f"FRAME-RATE={variant.frame_rate:.3f}",
            f'CODECS="{variant.codecs}"',
        ]
        if audio is not None:
            attrs.append(f'AUDIO="{audio.group_id}"')
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


def parse_master(text: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(variants with their attributes and ``URI``, EXT-X-MEDIA renditions) of a master playlist."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not an M3U8 playlist (no #EXTM3U header)")
    variants: list[dict[str, str]] = []
    media: list[dict[str, str]] = []
    pending: Optional[dict[str, str]] = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = parse_attributes(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA:"):
            media.append(parse_attributes(line.split(":", 1)[1]))
        elif not line.startswith("#") and pending is not None:
            variants.append({**pending, "URI": line})
            pending = None
    if not variants:
        raise PlaylistError("master playlist lists no variants")
    return variants, media
