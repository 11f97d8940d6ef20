"""Reading a rendition's codec configuration back from what was written (see ``domain.bitstream``)."""

from __future__ import annotations

import os

import av

from netflix_clone.video_processor.domain.bitstream import (
    BitstreamError,
    StreamConfig,
    parse_av1c,
    parse_avcc,
    parse_hvcc,
    sps_from_annexb,
)
from netflix_clone.video_processor.domain.playlists import MediaPlaylist

__all__ = ["rendition_stream_config"]


def rendition_stream_config(directory: str, playlist: MediaPlaylist) -> StreamConfig:
    """Profile, level and CODECS string of the rendition in ``directory``, from its bytes.

    fMP4: the decoder configuration record in the initialization segment. MPEG-TS: the SPS in the
    first access unit of the first segment (every segment opens on an IDR carrying one).
    """
    if playlist.map_uri:
        with av.open(os.path.join(directory, playlist.map_uri)) as container:
            ctx = container.streams.video[0].codec_context
            record = bytes(ctx.extradata or b"")
            name = str(getattr(ctx.codec, "canonical_name", None) or ctx.name)
        if name == "h264":
            return parse_avcc(record)
        if name == "hevc":
            return parse_hvcc(record)
        if name == "av1":
            return parse_av1c(record)
        raise BitstreamError(f"no configuration parser for {name}")
    if not playlist.segments:
        raise BitstreamError("playlist has no segments")
    with av.open(os.path.join(directory, playlist.segments[0].uri)) as container:
        for packet in container.demux(video=0):
            if packet.size:
                found = sps_from_annexb(bytes(packet))
                if found is not None:
                    return found
    raise BitstreamError(f"no sequence parameter set in {playlist.segments[0].uri}")
