"""``axon train CONFIG.toml [--out DIR] [--resume] [--set section.key=value ...]``."""
from __future__ import annotations

from pathlib import Path

HELP = "train a spiking network with learnable delays from a TOML config"


def add_arguments(parser) -> None:
    parser.add_argument("config", help="training config (TOML), e.g. training/configs/quick.toml")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (TOML syntax), e.g. --set model.delays='\"none\"' "
                             "or --set model.delays=none; repeatable")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from training.config import load_config
    from training.train import train

    cfg, _ = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    res = train(cfg, out, resume=args.resume, progress=not args.quiet)
    if args.quiet and res and "accuracy" in res:  # without --quiet, train() prints this itself
        print(f"test accuracy (rounded delays) {res['accuracy']['test']:.4f}, valid {res['accuracy']['valid']:.4f}; "
              f"mean hidden rate (test) {res['mean_hidden_rate_hz']['test']:.1f} Hz; "
              f"wall {res['wall_time_s']:.0f} s; report in {out}")
    return 0 if res else 1
