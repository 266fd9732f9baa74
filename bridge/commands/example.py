"""``axon example --out DIR``: write the docs/benchmarks.md reference network and Poisson input."""
from __future__ import annotations

HELP = "write the reference network of docs/benchmarks.md (model.h5) and Poisson input (events.h5) to a folder"


def add_arguments(parser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of input (default 10)")
    parser.add_argument("--rate", type=float, default=10.0, help="input rate per channel in Hz (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="network seed; the input uses seed + 1")
    parser.add_argument("--dt", type=float, default=None,
                        help="put delays and input times on this grid (s), for grid engines and peers")
    parser.add_argument("--no-lateral", action="store_true", help="leave out the lateral matrices")
    parser.add_argument("--reset", choices=("subtract", "zero"), default="subtract",
                        help="reset of the hidden layers (NEST's iaf_psc_delta only has zero)")
    parser.add_argument("--min-delay-steps", type=int, default=0,
                        help="with --dt: smallest delay in steps (1 for Brian2 and NEST, which have no "
                             "twin of a zero-step delay)")


def run(args) -> int:
    from pathlib import Path

    from sim.model.examples import build_reference_network, poisson_events
    from sim.model.io import save_events, save_network

    if args.duration <= 0 or args.rate < 0:
        raise ValueError(f"--duration must be > 0 and --rate >= 0, got {args.duration!r}, {args.rate!r}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.dt is not None and args.dt <= 0:
        raise ValueError(f"--dt must be > 0, got {args.dt!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.min_delay_steps and args.dt is None:
        raise ValueError("--min-delay-steps needs --dt (delays are counted in steps of dt)")
    if args.min_delay_steps < 0:
        raise ValueError(f"--min-delay-steps must be >= 0, got {args.min_delay_steps!r}")
    net = build_reference_network(args.seed, dt_s=args.dt, lateral=not args.no_lateral, reset=args.reset,
                                  min_delay_steps=args.min_delay_steps)
    ev = poisson_events(net.n_inputs, args.rate, args.duration, args.seed + 1, dt_s=args.dt)
    save_network(out / "model.h5", net)
    save_events(out / "events.h5", ev, n_channels=net.n_inputs)
    print(f"{net}\n{len(ev)} input events over {args.duration:g} s -> {out}/model.h5, {out}/events.h5")
    return 0
