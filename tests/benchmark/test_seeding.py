import pytest

from benchmark import seeding


def test_seed_streams_are_disjoint():
    data = {seeding.dataset_seed(i) for i in range(0, seeding.DATASET_MAX, 9973)}
    train = {seeding.train_seed(s, k) for s in (0, 1, seeding.MAX_TRAIN_SEED)
             for k in (0, 1, seeding.TRAIN_STRIDE - 1)}
    ev = {seeding.eval_seed(level, e) for level in (0, 1, 50) for e in (0, seeding.EVAL_STRIDE - 1)}
    assert max(data) < min(train) and max(train) < min(ev)
    assert max(ev) < 2**32  # valid numpy/gymnasium seed


def test_train_seeds_of_different_training_seeds_never_collide():
    a = {seeding.train_seed(0, k) for k in range(0, seeding.TRAIN_STRIDE, 1000)}
    b = {seeding.train_seed(1, k) for k in range(0, seeding.TRAIN_STRIDE, 1000)}
    assert not a & b


@pytest.mark.parametrize("text,expected", [("0-4", [0, 1, 2, 3, 4]), ("3", [3]),
                                           ("5,0,2,2", [0, 2, 5]), ("0-1,7", [0, 1, 7])])
def test_parse_seeds(text, expected):
    assert seeding.parse_seeds(text) == expected


@pytest.mark.parametrize("bad", ["", "4-1", "x", "-1", "1000"])
def test_parse_seeds_rejects(bad):
    with pytest.raises(ValueError):
        seeding.parse_seeds(bad)
