"""Command line: ``python -m deap_lib {synth,prepare,...} --help``."""

from __future__ import annotations

import argparse
import sys

from deap_lib import io, synthetic


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--deap-dir",
        help=f"folder of DEAP's data_preprocessed_python (s01.dat ...); default ${io.DEAP_DIR_ENV}, "
        "else the synthetic twin",
    )
    p.add_argument("--participants", type=int, nargs="+", metavar="N", help="subset of participants (1-32)")
    p.add_argument("--twin-seed", type=int, default=synthetic.DEFAULT_SEED, help="seed of the twin (default %(default)s)")
    p.add_argument(
        "--twin-effect", type=float, default=synthetic.DEFAULT_EFFECT,
        help="planted effect size of the twin; 0 = null twin (default %(default)s)",
    )
    p.add_argument("--cache", help="cache folder (default $DEAP_LIB_CACHE or ~/.cache/deap_lib)")


def _source(args):
    from deap_lib.dataset import resolve_source

    return resolve_source(
        args.deap_dir, participants=args.participants, twin_seed=args.twin_seed, twin_effect=args.twin_effect
    )


def _cmd_synth(args) -> int:
    paths = synthetic.write_twin(
        args.out, args.participants, seed=args.seed, effect=args.effect, dtype=args.dtype
    )
    print(f"wrote {len(paths)} twin participants to {args.out} (not DEAP data)")
    return 0


def _cmd_prepare(args) -> int:
    from deap_lib.dataset import prepare
    from deap_lib.labels import class_balance

    data = prepare(_source(args), standardization=args.standardization, cache=args.cache, force=args.force)
    print(f"data: {data.source.describe()}")
    print(f"features {data.features.shape}, identity {data.identity}")
    for row in class_balance(data.ratings):
        print(
            f"  {row['target']:8s} high {row['high']:5d} / {row['n_trials']} ({row['share_high']:.1%}), "
            f"exactly 5: {row['at_threshold']}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deap_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the synthetic DEAP twin as s01.dat ... files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--participants", type=int, default=io.N_PARTICIPANTS, help="how many (default %(default)s)")
    p.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED, help="seed (default %(default)s)")
    p.add_argument("--effect", type=float, default=synthetic.DEFAULT_EFFECT, help="effect size; 0 = null (default %(default)s)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="sample type (real DEAP: float64)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("prepare", help="reduce every trial to 32 x 99 features (cached)")
    _add_source_args(p)
    p.add_argument("--standardization", choices=["trial", "report-prose", "none"], default="trial")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.set_defaults(func=_cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
