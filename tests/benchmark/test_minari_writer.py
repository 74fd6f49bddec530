"""The dataset writer: Minari's files, byte for byte, in time linear in the episodes."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest

from benchmark.datasets import _minari_root, collect_demonstrations, write_minari_dataset
from benchmark.registry import get_task

AVOID = get_task("avoid")


@pytest.fixture(scope="module")
def buffers():
    return collect_demonstrations(AVOID, 24, workers=1)[0]


def _write(root: Path, buffers, writer) -> dict[str, str]:
    env = AVOID.make_env(None)
    with _minari_root(root), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer(dataset_id="test/writer/expert-v0", buffer=buffers,
               observation_space=env.observation_space, action_space=env.action_space,
               algorithm_name="a", author="b", author_email="c@example.com",
               code_permalink="git:0", description="d", data_format="arrow")
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_writer_writes_minaris_own_bytes(buffers, tmp_path):
    import minari

    ours = _write(tmp_path / "ours", buffers, write_minari_dataset)
    theirs = _write(tmp_path / "theirs", buffers, minari.create_dataset_from_buffers)
    assert len(ours) > 24 and ours == theirs


@pytest.mark.parametrize("episodes", [6, 24])
def test_the_writer_measures_the_dataset_a_fixed_number_of_times(buffers, tmp_path,
                                                                 monkeypatch, episodes):
    """Issue 18: Minari 0.5.3 globs the whole dataset after every episode (O(n^2) in
    episodes); the writer measures it a constant number of times, whatever n."""
    from minari.dataset.minari_storage import MinariStorage

    calls = []
    real = MinariStorage.get_size

    def counting(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(MinariStorage, "get_size", counting)
    _write(tmp_path, buffers[:episodes], write_minari_dataset)
    assert 1 <= len(calls) <= 3
    assert MinariStorage.get_size is counting  # the writer put back what it found
