"""``axon export CHECKPOINT --out MODEL.h5``: a trained checkpoint becomes a model file."""
from __future__ import annotations

HELP = "export a training checkpoint (runs/<config>/best.pt) to a sim model file (HDF5, SI units)"


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", help="training checkpoint, e.g. runs/digits/best.pt")
    parser.add_argument("--out", required=True, help="model file to write (HDF5)")
    parser.add_argument("--quiet", action="store_true", help="no summary line")


def run(args) -> int:
    from bridge.export import export_checkpoint

    net = export_checkpoint(args.checkpoint, args.out)
    if not args.quiet:
        t = net.task
        lat = f", lateral in {[l.layer for l in net.laterals]}" if net.laterals else ""
        print(f"{args.out}: {net!r}{lat}; dt {t.dt_s:g} s, {t.n_steps} steps, decision {t.decision_rule}, "
              f"classes {', '.join(net.class_names)}; delays in seconds (exact engine) and steps (grid engine)")
        from sim.metrics import engine_memory
        mem = engine_memory(net, t.dt_s)
        convs = [p for p in mem["projections"] if p["kind"] == "conv1d"]
        if convs:
            print("memory: " + "; ".join(f"{p['projection']} conv kernel {p['stored_values']} values -> "
                                         f"{p['synapses']} synapses" for p in convs)
                  + f"; file arrays {mem['stored_bytes'] / 1e6:.2f} MB, exact engine "
                  f"{mem['exact_engine_bytes'] / 1e6:.2f} MB, grid engine {mem['grid_engine_bytes'] / 1e6:.2f} MB")
    return 0
