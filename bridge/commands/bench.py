"""``axon bench --peers brian2,nest --out DIR``: axon's engines and Brian2/NEST on the
reference network, side by side on identical arrays (see :mod:`bridge.bench`)."""
from __future__ import annotations

HELP = "benchmark the exact and grid engines against Brian2 and NEST on the reference network"


def add_arguments(parser) -> None:
    from bridge.bench import ENGINES, VARIANTS

    parser.add_argument("--out", required=True, help="output folder (bench.json, bench.md, bench.png, inputs/, spikes/)")
    parser.add_argument("--peers", default="brian2,nest",
                        help="peer packages to run, from brian2,nest (default both; 'none' for axon alone)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"engines, from {','.join(ENGINES)} (default all)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"network variants, from {','.join(VARIANTS)} (default all; see bridge/bench.py)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of input (default 10)")
    parser.add_argument("--dt", type=float, default=1e-4, help="grid step in s (default 0.1 ms)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine, interleaved; the median is shown")
    parser.add_argument("--seed", type=int, default=0, help="network seed (the input uses seed + 1)")


def run(args) -> int:
    import sys

    from bridge.bench import ENGINES, VARIANTS, _parse_list, run_bench, table_lines, verdict_lines

    peers = [] if args.peers.strip().lower() in ("", "none") else _parse_list(args.peers, ("brian2", "nest"), "--peers")
    engines = _parse_list(args.engines, ENGINES, "--engines")
    variants = _parse_list(args.variants, tuple(VARIANTS), "--variants")
    if not engines or not variants:
        raise ValueError("--engines and --variants must name at least one each")
    rep = run_bench(out_dir=args.out, duration_s=args.duration, dt_s=args.dt, engines=engines, variants=variants,
                    peers=peers, repeat=args.repeat, seed=args.seed, argv=sys.argv[2:] if len(sys.argv) > 2 else None)
    print("\n".join(table_lines(rep)))
    print()
    for line in verdict_lines(rep):
        print(line)
    for n in rep["notes"]:
        print(f"note: {n}")
    print(f"\nresults in {args.out} (bench.json, bench.md, bench.png)")
    failed = [c for c in rep["identities"] if c["expected"] and not c["identical"]]
    return 1 if failed else 0
