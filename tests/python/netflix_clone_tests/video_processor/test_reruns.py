"""Issue 16: reruns are byte-identical - every published file, for every codec and both ladder modes.

Encoders run with fixed thread counts (x264's VBV rate control with frame threads depends on timing,
SVT-AV1's output on its parallelism), ``+bitexact`` and without the source's metadata; run statistics
(CPU, wall time) stay out of the manifest and quality.json. So a forced rerun into the same root
finds nothing to replace.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from netflix_clone.video_processor.adapters.encode import EncodeOptions
from netflix_clone.video_processor.adapters.publish import LocalPublisher
from netflix_clone.video_processor.process import ProcessConfig, process_video
from netflix_clone_testing.media import make_clip


def _tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("rerun") / "c.mp4", seconds=2, size="320x180")


@pytest.mark.parametrize(
    "codec, mode",
    [("h264", "default"), ("h264", "per-title"), ("hevc", "default"), ("av1", "default")],
)
def test_a_forced_rerun_writes_the_same_bytes(tmp_path: Path, source: Path, codec: str, mode: str) -> None:
    config = ProcessConfig(
        codec=codec,
        mode=mode,
        encode=EncodeOptions(segment_s=1, preset="ultrafast"),
        quality_subsample=5,
    )
    publisher = LocalPublisher(str(tmp_path / "out"))
    first = process_video(str(source), "c", "C", config, publisher)
    base = Path(first["location"][len("file://") :])
    before = _tree(base)
    assert first["run"]["publish"] == {"uploaded": len(before)}
    second = process_video(str(source), "c", "C", config, publisher, force=True)
    assert second["location"] == first["location"]
    assert second["run"]["publish"] == {"unchanged": len(before)}
    assert _tree(base) == before
    # Into another root too: only the manifest's own location differs.
    other = process_video(str(source), "c", "C", config, LocalPublisher(str(tmp_path / "other")))
    elsewhere = _tree(Path(other["location"][len("file://") :]))
    assert {k for k in before if before[k] != elsewhere.get(k)} == {"manifest.json"}
