"""``axon nir export MODEL.h5 --out NET.nir`` and ``axon nir import NET.nir --out MODEL.h5``:
networks in and out of NIR, the exchange format of snnTorch, Norse, Sinabs, Rockpool, Lava,
... (``bridge.nir``; conventions in docs/nir.md)."""
from __future__ import annotations

HELP = "convert a model file to a NIR graph (export) or a NIR graph to a model file (import)"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="nir_command", metavar="{export,import}")
    ex = sub.add_parser("export", help="model file (HDF5) -> NIR file", description="model file (HDF5) -> NIR file")
    ex.add_argument("model", help="axon model file (HDF5)")
    ex.add_argument("--out", required=True, help="NIR file to write")
    ex.add_argument("--dt", type=float, default=None, metavar="S",
                    help="step a NIR spike lasts, s (default: the model's training step)")
    ex.add_argument("--max-branches", type=int, default=None, metavar="N",
                    help="most Linear -> Delay branches per projection (default 256)")
    ex.add_argument("--delays", choices=("auto", "exact", "grid"), default="auto",
                    help="delays in seconds (exact: one branch per distinct value) or the grid's whole steps (grid: "
                         "what the grid engine runs; the exact values stay in axon's metadata); auto: exact unless a "
                         "projection needs more than --max-branches branches (default)")
    im = sub.add_parser("import", help="NIR file -> model file (HDF5)", description="NIR file -> model file (HDF5)")
    im.add_argument("graph", help="NIR file (as written by nir.write, e.g. from snnTorch's export_to_nir)")
    im.add_argument("--out", required=True, help="model file to write (HDF5)")
    im.add_argument("--dt", type=float, default=None, metavar="S",
                    help="step a NIR spike lasts, s (default: the graph's own; snnTorch's exporter assumes 1e-4)")
    im.add_argument("--step-rule", choices=("exp", "euler"), default=None,
                    help="how tau becomes a decay per step: exp (exact, axon's) or euler (beta = 1 - dt/tau, "
                         "snnTorch's); default: the graph's own, else exp")
    im.add_argument("--reset", choices=("zero", "subtract"), default=None,
                    help="reset of every spiking layer (NIR cannot say subtract); default: the graph's own, else zero")


def run(args) -> int:
    from bridge.nir import export_nir, import_nir
    from sim.errors import InputError
    from sim.model.io import load_network, save_network

    if args.nir_command is None:
        raise InputError("choose what to do: axon nir export MODEL.h5 --out NET.nir, or axon nir import NET.nir "
                         "--out MODEL.h5")
    if args.nir_command == "export":
        net = load_network(args.model)
        kw = {} if args.max_branches is None else {"max_branches": args.max_branches}
        rounded = export_nir(net, args.out, dt_s=args.dt, delays=args.delays, **kw)
        print(f"{args.out}: NIR graph of {net!r}" + (f"; delays of {', '.join(rounded)} as whole steps of the "
                                                      "training grid (exact values in axon's metadata)"
                                                      if rounded else ""))
        return 0
    net = import_nir(args.graph, dt_s=args.dt, step_rule=args.step_rule, reset=args.reset)
    save_network(args.out, net)
    resets = sorted({l.reset for l in net.layers})
    print(f"{args.out}: {net!r}; reset {'/'.join(resets) or '-'}")
    return 0
