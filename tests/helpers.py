"""Shared test data."""

import numpy as np

from deap_lib.dataset import DataSource, Prepared


def fake_data(n_participants=4, seed=0, signal=1.0, tag="fake"):
    """A tiny Prepared set whose valence label is planted in channel 13: fast, learnable."""
    rng = np.random.default_rng(seed)
    n = 40 * n_participants
    ratings = rng.uniform(1, 9, size=(n, 4))
    x = rng.standard_normal((n, 32, 99))
    x[:, 13, :] += signal * (2 * (ratings[:, :1] >= 5) - 1)
    return Prepared(
        features=x, ratings=ratings, participant=np.repeat(np.arange(1, n_participants + 1), 40),
        trial=np.tile(np.arange(40), n_participants), source=DataSource(), standardization="trial",
        identity=f"{tag}-{n_participants}-{seed}-{signal}",
    )
