"""``axon validate MODEL.h5 --events EVENTS.h5 --against torch,brian2,nest --out DIR``:
run one network on one input in axon's engines and in its peers, and compare spike trains
row by row of docs/semantics.md's agreement table."""
from __future__ import annotations

HELP = "cross-validate a model file against the training forward pass, Brian2 and NEST"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5, written by axon export or sim.model.io.save_network)")
    parser.add_argument("--events", required=True,
                        help="events file (axon.events HDF5) or an SHD-format data set file with --sample")
    parser.add_argument("--sample", type=int, default=None, help="sample index when --events is an SHD-format file")
    parser.add_argument("--against", default="exact,torch,brian2,nest",
                        help="comma-separated peers from exact,torch,brian2,nest (default: all four)")
    parser.add_argument("--out", required=True, help="output folder (validate.json, validate.md, one folder per peer)")
    parser.add_argument("--dt", type=float, default=None,
                        help="grid step in s (default: the training dt recorded in the model file)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds to simulate (default: last event + longest delay x number of layers "
                             "+ 5 membrane time constants)")
    parser.add_argument("--checkpoint", default=None,
                        help="training checkpoint for torch (default: the one the model file was exported from)")
    parser.add_argument("--brian2-device", choices=("runtime", "cpp_standalone"), default="runtime",
                        help="Brian2 device: runtime (Cython, no build step; default) or cpp_standalone "
                             "(compiles a C++ program per network: slower start, faster run)")
    parser.add_argument("--nest-model", choices=("iaf_psc_delta", "iaf_psc_delta_ps"), default="iaf_psc_delta",
                        help="iaf_psc_delta is compared with the grid engine, iaf_psc_delta_ps with the exact engine")
    parser.add_argument("--quiet", action="store_true", help="print only errors (the report is still written)")


def run(args) -> int:
    from pathlib import Path

    from bridge.export import checkpoint_of
    from bridge.validate import validate
    from sim.model.io import load_events, load_network

    against = [a.strip() for a in args.against.split(",") if a.strip()]   # checked by validate()
    if not Path(args.model).exists():
        raise FileNotFoundError(f"{args.model}: no such model file")
    net = load_network(args.model)
    ev = load_events(args.events, sample=args.sample)
    dt = args.dt if args.dt is not None else (net.task.dt_s if net.task is not None else None)
    if dt is None:
        raise ValueError(f"{args.model} records no training dt: pass --dt (the grid step the engines share)")
    ckpt = args.checkpoint or checkpoint_of(net, args.model)
    log = (lambda *a, **k: None) if args.quiet else print
    rep = validate(net, ev, against=against, dt_s=float(dt), duration_s=args.duration, out_dir=args.out,
                   checkpoint=ckpt, brian2_device=args.brian2_device, nest_model=args.nest_model, log=log)
    if not args.quiet:
        print((Path(args.out) / "validate.md").read_text())
    errors = {k: v["error"] for k, v in rep["peers"].items() if "error" in v}
    failed = [k for k, v in rep["peers"].items() if v.get("identity_expected") and not v.get("identical")]
    if errors:
        raise ValueError("; ".join(f"{k}: {v}" for k, v in errors.items()) + f" (other results in {args.out})")
    return 1 if failed else 0
