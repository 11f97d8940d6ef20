"""What an encoded stream declares about itself: profile, constraints, tier and level, read from bytes.

The master playlist's CODECS must match the bitstream, so after encoding the pipeline reads these back
from each rung's first segment (or its fMP4 initialization segment) instead of trusting the plan:

* H.264: the sequence parameter set (NAL type 7) in an Annex B stream (MPEG-TS), or the ``avcC``
  decoder configuration record (fMP4): profile_idc, the constraint_set flags byte, level_idc.
* HEVC: the ``hvcC`` record (general profile space/tier/idc, compatibility flags, constraint flags,
  level), which the muxer copies from the VPS/SPS profile_tier_level().
* AV1: the ``av1C`` record (seq_profile, seq_level_idx[0], seq_tier[0], bit depth), copied from the
  sequence header OBU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from netflix_clone.video_processor.domain.levels import av1_codecs, avc_codecs, hevc_codecs
from netflix_clone.video_processor.errors import BitstreamError

__all__ = [
    "BitstreamError",
    "StreamConfig",
    "parse_av1c",
    "parse_avcc",
    "parse_hvcc",
    "sps_from_annexb",
]


@dataclass(frozen=True)
class StreamConfig:
    codec: str  # h264 | hevc | av1
    profile: int
    level: int  # level_idc (H.264), general_level_idc (HEVC), seq_level_idx (AV1)
    codecs: str  # the RFC 6381 string this configuration calls for
    constraints: int = 0  # H.264 constraint_set flags byte
    tier: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "codec": self.codec,
            "profile": self.profile,
            "level": self.level,
            "tier": self.tier,
            "constraints": self.constraints,
            "codecs": self.codecs,
        }


def _unescape(payload: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00)."""
    out = bytearray()
    zeros = 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _h264(profile: int, constraints: int, level: int) -> StreamConfig:
    return StreamConfig("h264", profile, level, avc_codecs(profile, constraints, level), constraints)


def sps_from_annexb(data: bytes) -> Optional[StreamConfig]:
    """The first H.264 SPS in an Annex B byte stream (start codes 00 00 01), or None."""
    start = 0
    while True:
        start = data.find(b"\x00\x00\x01", start)
        if start < 0 or start + 4 >= len(data):
            return None
        header = data[start + 3]
        if header & 0x1F == 7:
            body = _unescape(data[start + 4 : start + 4 + 16])
            if len(body) < 3:
                raise BitstreamError("truncated sequence parameter set")
            return _h264(body[0], body[1], body[2])
        start += 3


def parse_avcc(record: bytes) -> StreamConfig:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    if len(record) < 4 or record[0] != 1:
        raise BitstreamError("not an avcC record")
    return _h264(record[1], record[2], record[3])


def parse_hvcc(record: bytes) -> StreamConfig:
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)."""
    if len(record) < 13 or record[0] != 1:
        raise BitstreamError("not an hvcC record")
    space, tier, profile = record[1] >> 6, (record[1] >> 5) & 1, record[1] & 0x1F
    compatibility = int.from_bytes(record[2:6], "big")
    constraints = bytes(record[6:12])
    level = record[12]
    return StreamConfig(
        "hevc",
        profile,
        level,
        hevc_codecs(space, profile, compatibility, tier, level, constraints),
        int.from_bytes(constraints, "big"),
        tier,
    )


def parse_av1c(record: bytes) -> StreamConfig:
    """AV1CodecConfigurationRecord (AV1 ISOBMFF binding 2.3.3)."""
    if len(record) < 3 or record[0] != 0x81:
        raise BitstreamError("not an av1C record")
    profile, level = record[1] >> 5, record[1] & 0x1F
    tier, high_bitdepth, twelve_bit = record[2] >> 7, (record[2] >> 6) & 1, (record[2] >> 5) & 1
    depth = 12 if twelve_bit else 10 if high_bitdepth else 8
    return StreamConfig("av1", profile, level, av1_codecs(profile, level, tier, depth), 0, tier)
