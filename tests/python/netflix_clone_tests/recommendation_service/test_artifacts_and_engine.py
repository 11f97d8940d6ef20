from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from netflix_clone.recommendation_service.adapters.artifacts import current_version, load_model, save_model
from netflix_clone.recommendation_service.errors import ModelError, UnknownItem, UnknownUser
from netflix_clone.recommendation_service.serving.recommender import Recommender

from .helpers import train_small


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("models")
    return root, train_small(root)


def test_saved_model_round_trips_and_becomes_current(trained) -> None:
    root, result = trained
    assert current_version(root) == result.model.version
    loaded = load_model(root).model
    np.testing.assert_array_equal(loaded.item_factors, result.model.item_factors)
    assert loaded.user_ids.tolist() == result.model.user_ids.tolist()
    assert (loaded.seen != result.model.seen).nnz == 0
    meta = json.loads((result.path / "metadata.json").read_text())
    assert {"data_hash", "params", "created_at", "format_version", "offline_metrics"} <= set(meta)
    assert not [p for p in root.iterdir() if p.name.startswith(".") and p.is_dir()], "staging dir left behind"


def _copy(result, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / result.model.version
    shutil.copytree(result.path, target)
    (tmp_path / "CURRENT").write_text(result.model.version)
    return target


def test_loading_rejects_wrong_format_version(trained, tmp_path: Path) -> None:
    _, result = trained
    directory = _copy(result, tmp_path)
    meta = json.loads((directory / "metadata.json").read_text())
    meta["format_version"] = 99
    (directory / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format version 99; this build reads 1"):
        load_model(tmp_path)


def test_loading_rejects_wrong_dtype_and_shape(trained, tmp_path: Path) -> None:
    _, result = trained
    directory = _copy(result, tmp_path)
    np.save(directory / "item_factors.npy", result.model.item_factors.astype(np.float64))
    with pytest.raises(ModelError, match="item_factors.npy has dtype float64, expected float32"):
        load_model(tmp_path)
    np.save(directory / "item_factors.npy", result.model.item_factors[:-1])
    with pytest.raises(ModelError, match=r"item_factors rows 199 != 200 items"):
        load_model(tmp_path)


def test_loading_reports_missing_files_and_pointer(trained, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="CURRENT is missing"):
        load_model(tmp_path)
    _, result = trained
    directory = _copy(result, tmp_path)
    (directory / "seen.npz").unlink()
    with pytest.raises(ModelError, match="seen.npz is missing"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    "name, keep",
    [("seen.npz", 0.5), ("seen.npz", 0.0), ("item_factors.npy", 0.5), ("metadata.json", 0.3)],
)
def test_truncated_files_give_one_line_errors(trained, tmp_path: Path, name: str, keep: float) -> None:
    _, result = trained
    directory = _copy(result, tmp_path)
    path = directory / name
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path)
    message = str(caught.value)
    assert name in message and "\n" not in message and len(message) < 400


def test_two_saves_of_the_same_model_in_the_same_instant_both_succeed(trained, tmp_path: Path) -> None:
    """Versions carry microseconds and a random suffix, and a taken name is drawn again."""
    _, result = trained
    model = result.model
    # Even the very same proposed name (a clock that did not move), from threads racing for it.
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: save_model(tmp_path, model), range(4)))
    assert len({p.name for p in paths}) == 4 and all(p.is_dir() for p in paths)
    assert current_version(tmp_path) in {p.name for p in paths}
    for path in paths:
        loaded = load_model(tmp_path, path.name).model
        assert loaded.version == path.name
        assert json.loads((path / "metadata.json").read_text())["version"] == path.name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_exclude_seen_and_explicit_exclusions(trained) -> None:
    _, result = trained
    rec = Recommender(result.model)
    user = str(result.model.user_ids[0])
    seen = {str(result.model.item_ids[i]) for i in result.model.seen_items(0)}
    assert seen
    top = rec.recommend(user, 20)
    assert top.strategy == "als-exact" and len(top.items) == 20
    assert not seen & set(top.items)
    assert top.scores == sorted(top.scores, reverse=True)
    blocked = top.items[:3]
    again = rec.recommend(user, 20, exclude=blocked)
    assert not set(blocked) & set(again.items)
    with_seen = rec.recommend(user, 200, exclude_seen=False)
    assert seen <= set(with_seen.items)


def test_scores_agree_with_top_n(trained) -> None:
    _, result = trained
    rec = Recommender(result.model)
    user = str(result.model.user_ids[5])
    top = rec.recommend(user, 5)
    assert rec.scores(user, top.items) == pytest.approx(top.scores, rel=1e-5)
    assert rec.score(user, top.items[0]) == pytest.approx(top.scores[0], rel=1e-5)


def test_cold_start_uses_popularity_or_trending(trained) -> None:
    _, result = trained
    model = result.model
    pop = Recommender(model).recommend("someone-new", 5)
    assert pop.strategy == "popularity"
    expected = [str(model.item_ids[i]) for i in np.lexsort((np.arange(model.n_items), -model.popularity))[:5]]
    assert pop.items == expected
    assert Recommender(model, cold_start="trending").recommend("someone-new", 5).strategy == "trending"
    assert expected[0] not in Recommender(model).recommend("someone-new", 5, exclude=[expected[0]]).items


def test_unknown_ids_raise_typed_errors(trained) -> None:
    _, result = trained
    rec = Recommender(result.model)
    with pytest.raises(UnknownUser):
        rec.score("nobody", str(result.model.item_ids[0]))
    with pytest.raises(UnknownItem):
        rec.similar("no-such-title")


def test_diversified_lists_are_more_spread_out(trained) -> None:
    _, result = trained
    rec = Recommender(result.model)
    user = str(result.model.user_ids[1])

    def spread(items: list[str]) -> float:
        vecs = result.model.item_factors[[rec.item_index(i) for i in items]]
        vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        sims = vecs @ vecs.T
        return float(sims[np.triu_indices(len(items), 1)].mean())

    plain = rec.recommend(user, 10)
    diverse = rec.recommend(user, 10, diversity=0.8)
    assert spread(diverse.items) < spread(plain.items)


def test_large_catalog_path_uses_ann_with_recall_in_metadata(tmp_path: Path) -> None:
    result = train_small(tmp_path, ann_threshold=100)  # 200 titles: above the threshold
    ann_meta = result.model.metadata["ann"]
    assert ann_meta["ip"]["recall_at_10"] >= 0.95 and ann_meta["cosine"]["recall_at_10"] >= 0.95
    loaded = load_model(tmp_path)
    rec = Recommender(loaded.model, ann=loaded.ann["ip"], similar_ann=loaded.ann["cosine"])
    exact = Recommender(loaded.model)
    hits = total = 0
    for user in loaded.model.user_ids[:50].tolist():
        approx_top = rec.recommend(user, 10)
        assert approx_top.strategy == "als-ann"
        seen = {str(loaded.model.item_ids[i]) for i in loaded.model.seen_items(rec.user_index(user))}
        assert not seen & set(approx_top.items)
        hits += len(set(approx_top.items) & set(exact.recommend(user, 10).items))
        total += 10
    assert hits / total >= 0.9
    assert rec.similar(str(loaded.model.item_ids[0]), 5).strategy == "cosine-ann"


def test_loaded_factors_are_memory_mapped_and_served_without_a_copy(trained) -> None:
    """Worker processes share one page-cache copy of the factors: nothing copies them at load."""
    root, result = trained
    loaded = load_model(root)
    assert isinstance(loaded.model.item_factors, np.memmap)
    assert isinstance(loaded.model.user_factors, np.memmap)
    assert isinstance(loaded.unit_items, np.memmap)
    rec = Recommender(loaded.model, unit_items=loaded.unit_items)
    served = rec._item_factors  # pylint: disable=protected-access
    assert np.shares_memory(served, loaded.model.item_factors)
    assert (
        rec.recommend(str(result.model.user_ids[0]), 5).items
        == Recommender(result.model).recommend(str(result.model.user_ids[0]), 5).items
    )
