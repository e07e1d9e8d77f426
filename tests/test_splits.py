import json

import numpy as np
import pytest

from deap_lib.experiment.splits import (
    Split,
    five_by_two_splits,
    fixed_split,
    kfold_splits,
    loso_splits,
    seeded_subset,
    split_balance,
    validation_split,
)

N_PARTICIPANTS = 32
N_TRIALS = 40
N_ROWS = N_PARTICIPANTS * N_TRIALS


@pytest.fixture
def participant():
    """DEAP ids 1..32, rows ordered by participant then trial, shape (1280,)."""
    return np.repeat(np.arange(1, N_PARTICIPANTS + 1), N_TRIALS)


@pytest.fixture
def labels():
    """Binary labels with DEAP's valence balance: 724 high of 1280."""
    y = np.zeros(N_ROWS, dtype=np.int64)
    y[:724] = 1
    return np.random.default_rng(0).permutation(y)


def assert_partition(split, n_rows):
    assert np.intersect1d(split.train, split.test).size == 0
    assert np.array_equal(np.union1d(split.train, split.test), np.arange(n_rows))


def assert_sorted_int64(array):
    assert array.dtype == np.int64
    assert np.all(np.diff(array) > 0)


# %% Split


def test_split_round_trips_through_json():
    split = fixed_split(50, n_test=10, seed=3)
    text = json.dumps(split.to_dict())
    restored = Split.from_dict(json.loads(text))
    assert restored == split
    assert restored.name == "fixed"
    assert_sorted_int64(restored.train)
    assert_sorted_int64(restored.test)


def test_split_sorts_and_freezes_indices():
    split = Split(name="x", train=[5, 1, 3], test=[4, 0])
    assert split.train.tolist() == [1, 3, 5]
    assert split.test.tolist() == [0, 4]
    with pytest.raises(ValueError):
        split.train[0] = 2
    with pytest.raises(AttributeError):
        split.name = "y"


def test_split_rejects_overlap_and_repeats():
    with pytest.raises(ValueError, match="both train and test"):
        Split(name="x", train=[0, 1, 2], test=[2, 3])
    with pytest.raises(ValueError, match="repeated"):
        Split(name="x", train=[0, 1, 1], test=[2])


# %% fixed split


def test_fixed_split_sizes_and_partition():
    split = fixed_split(N_ROWS)
    assert split.train.size == 1180
    assert split.test.size == 100
    assert_partition(split, N_ROWS)
    assert_sorted_int64(split.train)
    assert_sorted_int64(split.test)


def test_fixed_split_is_reproducible_from_seed():
    assert fixed_split(N_ROWS, seed=12) == fixed_split(N_ROWS, seed=12)
    assert not np.array_equal(fixed_split(N_ROWS, seed=12).test, fixed_split(N_ROWS, seed=13).test)


@pytest.mark.parametrize("n_test", [0, N_ROWS])
def test_fixed_split_refuses_an_empty_part(n_test):
    with pytest.raises(ValueError, match="test_size"):  # scikit-learn's check
        fixed_split(N_ROWS, n_test=n_test)


def test_fixed_split_stratified_keeps_balance(labels):
    split = fixed_split(N_ROWS, stratify=labels)
    balance = split_balance(labels, split)
    assert abs(balance["test"]["high"] - 100 * 724 / N_ROWS) <= 1


# %% k-fold


def test_kfold_has_32_disjoint_covering_folds_of_40():
    splits = kfold_splits(N_ROWS)
    assert len(splits) == 32
    assert [s.name for s in splits[:3]] == ["kfold32-fold01", "kfold32-fold02", "kfold32-fold03"]
    tests = np.concatenate([s.test for s in splits])
    assert np.array_equal(np.sort(tests), np.arange(N_ROWS))
    for split in splits:
        assert split.test.size == 40
        assert_partition(split, N_ROWS)


def test_kfold_is_seeded():
    assert kfold_splits(N_ROWS, seed=12) == kfold_splits(N_ROWS, seed=12)
    assert kfold_splits(N_ROWS, seed=12) != kfold_splits(N_ROWS, seed=7)


def test_kfold_mixes_participants(participant):
    split = kfold_splits(N_ROWS)[0]
    assert np.unique(participant[split.test]).size > 1


def test_stratified_kfold_balances_folds(labels):
    expected = 40 * 724 / N_ROWS
    for split in kfold_splits(N_ROWS, labels=labels):
        assert abs(labels[split.test].sum() - expected) <= 1


# %% leave-one-subject-out


def test_loso_holds_out_each_participant_once(participant):
    splits = loso_splits(participant)
    assert len(splits) == N_PARTICIPANTS
    assert splits[0].name == "loso-s01"
    assert splits[-1].name == "loso-s32"
    for p, split in enumerate(splits, start=1):
        assert np.array_equal(split.test, np.flatnonzero(participant == p))
        assert np.intersect1d(participant[split.train], participant[split.test]).size == 0
        assert_partition(split, N_ROWS)


def test_loso_holds_out_a_seeded_choice_of_participants(participant):
    splits = loso_splits(participant, holdout=2, seed=12)
    names = [s.name for s in splits]
    assert len(names) == 2 and names == sorted(names) and names == [s.name for s in loso_splits(participant, holdout=2)]
    assert names != [s.name for s in loso_splits(participant, holdout=2, seed=13)]
    assert all(s.train.size == N_ROWS - N_TRIALS for s in splits)
    assert loso_splits(participant, holdout=40) == loso_splits(participant)


def test_seeded_subset():
    items = list(range(10))
    a = seeded_subset(items, 4, seed=12)
    assert a == seeded_subset(items, 4, seed=12) and a == sorted(a) and len(set(a)) == 4
    assert a != seeded_subset(items, 4, seed=13)
    assert seeded_subset(items, None) == items == seeded_subset(items, 40)


# %% validation split


def test_validation_split_uses_only_training_rows():
    split = fixed_split(N_ROWS)
    fit, val = validation_split(split.train, fraction=0.1)
    assert np.intersect1d(fit, val).size == 0
    assert np.array_equal(np.union1d(fit, val), split.train)
    assert np.intersect1d(val, split.test).size == 0
    assert val.size == 118
    assert_sorted_int64(fit)
    assert_sorted_int64(val)
    fit2, val2 = validation_split(split.train, fraction=0.1)
    assert np.array_equal(val, val2)


def test_validation_split_stratified(labels):
    split = fixed_split(N_ROWS)
    fit, val = validation_split(split.train, labels=labels[split.train], fraction=0.2)
    share_train = labels[split.train].mean()
    assert abs(labels[val].mean() - share_train) < 0.01


def test_grouped_validation_holds_whole_participants(participant):
    split = loso_splits(participant)[0]
    fit, val = validation_split(split.train, fraction=0.1, groups=participant[split.train])
    val_participants = np.unique(participant[val])
    assert val_participants.size == 4  # ceil(0.1 * 31)
    assert np.intersect1d(val_participants, participant[fit]).size == 0
    assert np.array_equal(np.union1d(fit, val), split.train)
    for p in val_participants:
        assert np.count_nonzero(participant[val] == p) == N_TRIALS


def test_validation_split_rejects_bad_arguments(labels, participant):
    train = np.arange(100)
    with pytest.raises(ValueError, match="test_size"):
        validation_split(train, fraction=1.0)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        validation_split(train, labels=labels)  # full-length, not labels[train]
    with pytest.raises(ValueError, match="not both"):
        validation_split(train, labels=labels[train], groups=participant[train])


# %% 5x2 cross-validation


def test_five_by_two_halves_swap():
    pairs = five_by_two_splits(N_ROWS)
    assert len(pairs) == 5
    for first, second in pairs:
        assert first.train.size == first.test.size == N_ROWS // 2
        assert np.array_equal(first.train, second.test)
        assert np.array_equal(first.test, second.train)
        assert_partition(first, N_ROWS)
    tests = [first.test for first, _ in pairs]
    assert len({t.tobytes() for t in tests}) == 5
    assert five_by_two_splits(N_ROWS, seed=12) == five_by_two_splits(N_ROWS, seed=12)
    assert five_by_two_splits(N_ROWS, seed=12) != five_by_two_splits(N_ROWS, seed=13)


def test_five_by_two_stratified(labels):
    for first, _ in five_by_two_splits(N_ROWS, labels=labels):
        assert abs(labels[first.test].sum() - 724 / 2) <= 1


# %% class balance


def test_split_balance_counts():
    y = np.array([1, 1, 0, 0, 1, 0])
    balance = split_balance(y, Split(name="x", train=[0, 1, 2, 3], test=[4, 5]))
    assert balance["train"] == {"n": 4, "high": 2, "low": 2, "share_high": 0.5}
    assert balance["test"] == {"n": 2, "high": 1, "low": 1, "share_high": 0.5}
    assert json.loads(json.dumps(balance)) == balance
