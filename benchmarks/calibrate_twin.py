"""Calibrate the twin's effect size: a simple scikit-learn classifier on the prepared features.

Prints, per effect size and target: the majority baseline, 10-fold random cross-validated accuracy
(participants mixed, like the report's k-fold) and leave-one-participant-out accuracy, for a
standardized logistic regression on the 32 x 99 features. The aim is a DEAP-like regime: clearly
above the majority baseline under random k-fold (roughly 60-75 %), lower across participants, far
from 100 %; and chance at effect 0.

    python benchmarks/calibrate_twin.py --effects 0 0.5 1 2
"""

import argparse
import time

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, LeaveOneGroupOut, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deap_lib.data.dataset import prepare, resolve_source
from deap_lib.data.labels import TARGETS


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--effects", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--C", type=float, default=0.01, help="inverse regularization of the logistic regression")
    args = parser.parse_args()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=2000))
    print(f"{'effect':>6} {'target':>8} {'majority':>8} {'kfold10':>8} {'loso':>8}")
    for effect in args.effects:
        t0 = time.perf_counter()
        data = prepare(resolve_source(twin_seed=args.seed, twin_effect=effect), progress=False)
        x = data.features.reshape(len(data.features), -1)
        for target in TARGETS:
            y = data.labels(target)
            kfold = cross_val_score(clf, x, y, cv=KFold(10, shuffle=True, random_state=args.seed), n_jobs=2)
            loso = cross_val_score(clf, x, y, cv=LeaveOneGroupOut(), groups=data.participant, n_jobs=2)
            majority = max(y.mean(), 1 - y.mean())
            print(f"{effect:6.2f} {target:>8} {majority:8.3f} {kfold.mean():8.3f} {loso.mean():8.3f}")
        print(f"       ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
