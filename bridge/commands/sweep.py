"""``axon sweep MODEL.h5 DATA.h5 --set hidden0.threshold=0.8,1.0,1.2 [--set ...] --out DIR``:
accuracy and hidden firing rates of a model with layer parameters changed, over the
Cartesian product of the values, each point a job on the same backend as ``axon classify``
(``--workers N`` local processes, ``--dask ADDRESS`` a cluster)."""
from __future__ import annotations

HELP = "accuracy and rates over a grid of layer parameters (threshold, tau_mem_s, drive, reset), in parallel"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5, with its training facts: dt, steps, decision rule)")
    parser.add_argument("data", help="SHD-format data set file")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="LAYER.PARAM=V1,V2,...",
                        help="values of one layer parameter (threshold, tau_mem_s, drive, reset); repeat for a grid")
    parser.add_argument("--engine", choices=("grid", "exact"), default="grid",
                        help="grid (training dt, rounded delays; default) or exact (continuous delays)")
    parser.add_argument("--max-samples", type=int, default=None, help="use only the first N samples")
    parser.add_argument("--out", required=True, help="output folder (sweep.json, sweep.md, sweep.png)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    from bridge.parallel import add_backend_arguments
    add_backend_arguments(parser)


def run(args) -> int:
    import time
    from pathlib import Path

    import numpy as np

    from bridge import evaluate as E
    from bridge.batch import _dataset, apply_settings, parse_settings, sweep_point, warm_evaluate
    from bridge.parallel import ProgressLine, backend_from_args, run_jobs
    from bridge.runfiles import write_json
    from sim.errors import InputError
    from sim.model.io import load_network

    if not Path(args.model).exists():
        raise FileNotFoundError(f"{args.model}: no such model file")
    if args.max_samples is not None and args.max_samples < 1:
        raise InputError(f"--max-samples must be >= 1, got {args.max_samples}")
    points = parse_settings(args.settings)
    net = load_network(args.model)
    for p in points:                        # every point valid before any job starts
        apply_settings(net, p)
    proto = E.ReadoutProtocol.from_network(net, str(args.model))
    ds = _dataset(str(Path(args.data).resolve()), net.n_inputs)
    if ds.n_units != net.n_inputs:
        raise InputError(f"{args.data}: {ds.n_units} input channels, the model expects {net.n_inputs}")
    E.check_frontend(args.data, ds, net)
    n = len(ds) if args.max_samples is None else min(len(ds), args.max_samples)
    backend = backend_from_args(args)
    ctx = {"network": net, "protocol": proto, "engine": args.engine, "data": str(Path(args.data).resolve()),
           "n_samples": n}
    labels = [", ".join(f"{k}={v}" for k, v in p.items()) for p in points]
    t0 = time.perf_counter()
    outs = run_jobs(sweep_point, ctx, points, labels, backend, warm=warm_evaluate,
                    progress=ProgressLine("points", args.quiet, "axon sweep"))
    wall = time.perf_counter() - t0
    rows = [dict(o.value, label=o.label) for o in outs if o.ok]
    failed = [{"point": o.label, "error": o.error} for o in outs if not o.ok]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "sweep.json", {"model": str(args.model), "data": str(args.data), "engine": args.engine,
                                    "n_samples": n, "backend": backend.describe(), "wall_s": wall,
                                    "protocol": {"dt_s": proto.dt_s, "n_steps": proto.n_steps,
                                                 "decision_rule": proto.rule},
                                    "points": rows, "failed": failed})
    layers = [l.name for l in net.layers]
    md = [f"# axon sweep: `{args.model}` on `{args.data}`", "",
          f"{n} samples, {args.engine} engine, decision rule `{proto.rule}`; {len(points)} points on "
          f"{backend.describe()} in {wall:.1f} s.", "",
          "| point | accuracy | " + " | ".join(f"{l} rate (Hz)" for l in layers) + " |",
          "|---|---|" + "---|" * len(layers)]
    for r in rows:
        md.append(f"| {r['label']} | {100 * r['accuracy']:.2f} % | "
                  + " | ".join(f"{r['layer_rate_hz'][l]:.2f}" for l in layers) + " |")
    if failed:
        md += ["", f"**{len(failed)} points failed**: " + "; ".join(f"{x['point']}: {x['error']}" for x in failed)]
    md += ["", "![accuracy per point](sweep.png)", "", "*Accuracy and mean hidden firing rate at each point.*", ""]
    (out / "sweep.md").write_text("\n".join(md))
    if rows:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        x = np.arange(len(rows))
        fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(rows)), 3.6))
        ax.plot(x, [100 * r["accuracy"] for r in rows], "o-", color="0.2", label="accuracy")
        ax.set_ylabel("accuracy (%)")
        ax.set_xticks(x)
        ax.set_xticklabels([r["label"] for r in rows], rotation=45, ha="right", fontsize=7)
        ax2 = ax.twinx()
        ax2.plot(x, [np.mean(list(r["layer_rate_hz"].values())) for r in rows], "s--", color="tab:red",
                 label="mean hidden rate")
        ax2.set_ylabel("mean hidden rate (Hz)", color="tab:red")
        ax.set_xlabel("sweep point")
        ax.set_title(f"Sweep of {args.model}: {n} samples, {args.engine} engine")
        fig.tight_layout()
        fig.savefig(out / "sweep.png", dpi=110)
        plt.close(fig)
    if not args.quiet:
        print("\n".join(md[4:4 + 2 + len(rows)]))
    print(f"{len(rows)} of {len(points)} points -> {out}/sweep.json")
    if failed:
        raise InputError(f"{len(failed)} of {len(points)} points failed (first: {failed[0]['point']}: "
                         f"{failed[0]['error']})")
    return 0
