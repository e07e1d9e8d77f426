"""Command line: ``python -m deap_lib {synth,prepare,...} --help``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deap_lib.data import deap_format, mahnob_format, synthetic
from deap_lib.experiment import executor

_DEAP_VAR = f"${deap_format.DEAP_DIR_ENV}"
_MAHNOB_VAR = f"${mahnob_format.MAHNOB_DIR_ENV}"
#: The overrides of ``train`` and ``cv`` passed to the experiment's config when given.
_OVERRIDES = ("epochs", "seed", "target", "deap_dir", "dataset", "mahnob_dir", "participants")
#: How ``train`` and ``cv`` name a run's figures.
_FIGURE_LABELS = {"as_reported": "best epoch on the test set (as reported; optimistic)", "last": "last epoch",
                  "last_k": "mean of the last epochs", "val_chosen": "epoch chosen on validation"}
_CACHE_HELP = "cache folder (default $DEAP_LIB_CACHE or ~/.cache/deap_lib)"


def _add_data_args(p: argparse.ArgumentParser, dataset: str | None) -> None:
    p.add_argument("--deap-dir", help=f"folder of DEAP's data_preprocessed_python (s01.dat ...); default {_DEAP_VAR}, "
                   "else the synthetic twin")
    p.add_argument("--dataset", choices=["deap", "mahnob"], default=dataset,
                   help=f"mahnob: MAHNOB-HCI's sessions through the same pipeline (from --mahnob-dir, {_MAHNOB_VAR}, "
                   "else its synthetic twin)" + (" (default %(default)s)" if dataset else ""))
    p.add_argument("--mahnob-dir", help=f"MAHNOB-HCI folder holding Sessions/<id>/ (default {_MAHNOB_VAR}, "
                   "else the MAHNOB-HCI twin); with --dataset mahnob")
    p.add_argument("--participants", type=int, nargs="+", metavar="N",
                   help="subset of participants (1-32; MAHNOB-HCI: subject ids 1-30)")
    p.add_argument("--cache", help=_CACHE_HELP)


def _add_where_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help=f"run on this Dask cluster, e.g. tcp://host:8786 (default ${executor.SCHEDULER_ENV}; "
                   "else this machine); --n-jobs is then ignored")
    p.add_argument("--device", choices=["cpu", "cuda"],
                   help="train on this device (default: CUDA where the runs execute has it, else the CPU)")


def _add_run_args(p: argparse.ArgumentParser, n_jobs_help: str) -> None:
    p.add_argument("--config", required=True, help="experiment YAML, or a packaged name such as deap_dnn_valence")
    p.add_argument("--epochs", type=int, help="override the config's epochs")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--target", choices=["valence", "arousal"], help="override the config's target")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any config key (repeatable), e.g. --set lr=1e-3")
    _add_data_args(p, dataset=None)
    p.add_argument("--force", action="store_true", help="train again even when the run is stored")
    p.add_argument("--n-jobs", type=int, default=1, help=n_jobs_help)
    _add_where_args(p)


def _cmd_synth(args) -> int:
    paths = synthetic.write_twin(args.out, args.participants, seed=args.seed, effect=args.effect, dtype=args.dtype)
    print(f"wrote {len(paths)} twin participants to {args.out} (not DEAP data)")
    return 0


def _cmd_prepare(args) -> int:
    from deap_lib.data.labels import class_balance
    from deap_lib.experiment.settings import ExperimentConfig

    # every value checked by the settings' schema first: a bad one (or a NonFiniteFeaturesError) is a ValueError
    names = ("deap_dir", "dataset", "mahnob_dir", "participants", "twin_seed", "twin_effect", "standardization",
             "nonfinite", "data_identity")
    config = ExperimentConfig(**{name: getattr(args, name) for name in names})
    data = config.prepare(cache=args.cache, force=args.force)
    print(f"data: {data.source.describe()}")
    print(f"features {data.features.shape}, identity {data.identity}")
    if data.data_note():
        print(data.data_note())
    if data.nonfinite:
        print(data.nonfinite_note())
    for row in class_balance(data.ratings):
        print(f"  {row['target']:8s} high {row['high']:5d} / {row['n_trials']} ({row['share_high']:.1%}), "
              f"exactly 5: {row['at_threshold']}")
    return 0


def _config(args):
    """The experiment of ``train`` and ``cv``: ``--config`` with ``--set`` and the other overrides."""
    import yaml

    from deap_lib.experiment.settings import load_config

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    for name in _OVERRIDES:
        if getattr(args, name) not in (None, ""):
            overrides[name] = getattr(args, name)
    return load_config(args.config, **overrides)


def _cmd_train(args) -> int:
    from deap_lib.experiment.protocols import run_fixed

    config = _config(args)
    data = config.prepare(cache=args.cache)
    [pair] = run_fixed([config], data, n_jobs=args.n_jobs, cache=args.cache, force=args.force,
                       scheduler=args.scheduler, device=args.device)
    report, honest, s = pair.report, pair.honest, pair.summary
    print(f"data: {report.data['description']}")
    print(f"{config.model} {config.target}, fixed split, {config.epochs} epochs: the report's run fitted "
          f"{len(report.fit)} training trials"
          + (f"; the honest run {len(honest.fit)} (validation {len(honest.val)})"
             if honest else " (no honest run: val_fraction is 0)"))
    seconds = report.epoch_seconds
    print(f"arithmetic: {report.precision} on {report.device} (precision {config.precision}); training seed "
          f"{config.train_seed}; epoch seconds: median {sorted(seconds)[len(seconds) // 2]:.2f}, "
          f"{' '.join(f'{x:.2f}' for x in seconds[:8])}{' ...' if len(seconds) > 8 else ''}")
    runs = {"as_reported": "", "last": " of the report's run", "last_k": " of the report's run",
            "val_chosen": " (honest run)"}
    for name, run in runs.items():
        if (f := getattr(s, name)) is not None:
            which = f"last {f.k} epochs" if name == "last_k" else f"epoch {f.epoch}"
            print(f"  {_FIGURE_LABELS[name] + run:55s} {f.accuracy:.1%} ({which})")
    print(f"  {'majority-class baseline':55s} {s.majority_baseline:.1%}")
    print(f"records: {report.id}" + (f", {honest.id}" if honest else "") + " under the results cache")
    return 0


def _cmd_cv(args) -> int:
    from deap_lib.evaluation import summaries
    from deap_lib.experiment import protocols

    config = _config(args)
    data = config.prepare(cache=args.cache)
    run = dict(n_jobs=args.n_jobs, cache=args.cache, force=args.force, scheduler=args.scheduler, device=args.device)
    if args.scheme == "loso":
        records = protocols.run_loso(config, data, **run)
    else:  # the report's k-fold, in its protocol: every training trial fitted, last epoch
        records = protocols.run_kfold(config, data, n_folds=32 if args.scheme == "kfold32" else args.n_folds, **run)
    print(f"data: {records[0].data['description']}")
    print(f"{config.model} {config.target}: {len(records)} run(s), {config.epochs} epochs")
    for name in ("as_reported", "last", "val_chosen"):
        if name == "val_chosen" and records[0].summary.val_chosen is None:
            continue
        f = summaries.folds(records, name)
        # folds share training data: their t-interval is a spread, not a confidence interval (and none is
        # valid around a best-on-test figure)
        spread = "" if f.n == 1 or name == "as_reported" else \
            f" (t-interval over folds {f.low:.1%}-{f.high:.1%}; folds share training data)"
        print(f"  {_FIGURE_LABELS[name]:55s} {f.mean:.1%}{spread}")
    print(f"  {'majority-class baseline':55s} {f.baseline:.1%}")
    print(f"records: {records[0].id}... under the results cache")
    return 0


def _cmd_book(args) -> int:
    from deap_lib.report import driver

    params = {k: getattr(args, k) for k in ("deap_dir", "mahnob_dir", "scheduler", "device") if getattr(args, k)}
    book_dir = driver.prepare_book(args.out) if args.out else driver.ROOT / "book"
    times = driver.execute_chapters(args.profile, out=book_dir / "chapters",
                                    chapters=tuple(args.chapters or driver.CHAPTERS), parameters=params)
    print("chapters executed: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    if not args.no_build:
        driver.build(book_dir, out=args.out, profile=args.profile)
        print(f"book: {Path(args.out or driver.ROOT) / '_build' / 'html' / 'index.html'}")
    return 0


def _cmd_cache(args) -> int:
    from deap_lib.store import Store

    store = Store(args.cache)
    if args.clear:
        print(f"deleted {store.clear(args.clear)} file(s)")
    print(f"cache: {store.cache}")
    usage = store.usage()
    for kind, (n, size) in usage.items():
        print(f"  {kind:10s} {n:5d} file(s) {size / 2**20:9.1f} MiB")
    if "old layout" in usage:
        print("  (old layout: files of an earlier deap_lib, never read now; --clear all deletes them)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deap_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the synthetic DEAP twin as s01.dat ... files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--participants", type=int, default=deap_format.N_PARTICIPANTS,
                   help="how many (default %(default)s)")
    p.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED, help="seed (default %(default)s)")
    p.add_argument("--effect", type=float, default=synthetic.DEFAULT_EFFECT,
                   help="effect size; 0 = null (default %(default)s)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="sample type (real DEAP: float64)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("prepare", help="reduce every trial to 32 x 99 features (cached)")
    _add_data_args(p, dataset="deap")
    p.add_argument("--twin-seed", type=int, default=synthetic.DEFAULT_SEED,
                   help="seed of the twin (default %(default)s)")
    p.add_argument("--twin-effect", type=float, default=synthetic.DEFAULT_EFFECT,
                   help="planted effect size of the twin; 0 = null twin (default %(default)s)")
    p.add_argument("--standardization", choices=["trial", "report-prose", "none"], default="trial")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.add_argument("--nonfinite", choices=["error", "drop", "impute"], default="error",
                   help="trials with NaN/inf features (e.g. a flat channel): stop with an error (default), "
                   "drop them, or impute the undefined statistics as 0")
    p.add_argument("--data-identity", choices=["stat", "content"], default="stat",
                   help="how DEAP files are known to the cache: stat (path, size, inode, times; default) or content "
                   "(SHA-256: reads every file; copies of the data elsewhere then share cached results)")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("train", help="train one experiment on the report's fixed 1180/100 split")
    _add_run_args(p, "the report's run and the honest run in parallel (2)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("cv", help="cross-validate one experiment (the report's 32-fold, or leave-one-subject-out)")
    _add_run_args(p, "folds trained in parallel (joblib workers)")
    p.add_argument("--scheme", choices=["kfold32", "kfold", "loso"], default="kfold32",
                   help="kfold32: the report's random 32 folds (participants mixed); loso: one participant per fold")
    p.add_argument("--n-folds", type=int, default=32, help="folds of --scheme kfold (default %(default)s)")
    p.set_defaults(func=_cmd_cv)

    p = sub.add_parser("cache", help="show the cache's size by kind, or clear it")
    p.add_argument("--cache", help=_CACHE_HELP)
    p.add_argument("--clear", nargs="+", choices=["features", "records", "weights", "baselines", "all"],
                   help="delete these kinds (a run is stored only with its weights: deleting weights or records "
                   "means its runs are trained again when next needed)")
    p.set_defaults(func=_cmd_cache)

    p = sub.add_parser("book", help="execute every chapter with papermill, then build the book (-W)")
    p.add_argument("--profile", default="quick", help="smoke, quick (default) or paper, or a profile YAML")
    p.add_argument("--deap-dir", help=f"run every chapter on real DEAP (default {_DEAP_VAR}, else the twin)")
    p.add_argument("--mahnob-dir", help=f"run the MAHNOB-HCI chapter on real MAHNOB-HCI (default {_MAHNOB_VAR}, "
                   "else its twin)")
    p.add_argument("--chapters", nargs="+", metavar="NAME", help="only these chapters, e.g. 02_models")
    p.add_argument("--no-build", action="store_true", help="execute the chapters only")
    _add_where_args(p)
    p.add_argument("--out", help="build a separate copy of the book in this folder (its chapters and HTML), "
                   "leaving book/chapters and _build/html alone (make test uses _build/smoke)")
    p.set_defaults(func=_cmd_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "device"):  # before any work: a device this machine lacks, or an unusable cluster
            executor.check_device(args.device, args.scheduler)
            scheduler = executor.resolve_scheduler(args.scheduler)
            if scheduler is not None:
                executor.connect(scheduler)
        return args.func(args)
    except (ValueError, OSError, executor.ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # one line, not the tracebacks of every layer it went through
        default = "every run and feature finished so far is stored; run the same command again to resume"
        print(f"interrupted: {err or default}", file=sys.stderr)
        return 130
