"""``axon evaluate MODEL.h5 DATA.h5 --engines exact,grid[,torch] --out DIR``: accuracy and
hidden firing rates of one model on an SHD-format data set, engine by engine, side by side.

exact: continuous time, the learned delays in seconds (unrounded); grid: the training dt,
delays rounded as in training; torch: the training forward pass itself (float64, from the
checkpoint the model was exported from). One decision rule and one binning for all.
"""
from __future__ import annotations

HELP = "accuracy and hidden rates of a model file on an SHD-format data set per engine (exact, grid, torch)"

ENGINES = ("exact", "grid", "torch")


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5, written by axon export)")
    parser.add_argument("data", help="SHD-format data set file (e.g. data/synth_digits/synth_test.h5)")
    parser.add_argument("--engines", default="exact,grid", help="comma-separated from exact,grid,torch "
                        "(default exact,grid)")
    parser.add_argument("--out", required=True, help="output folder (evaluate.json, evaluate.md)")
    parser.add_argument("--checkpoint", default=None,
                        help="training checkpoint for the torch engine (default: the one the model was exported from)")
    parser.add_argument("--max-samples", type=int, default=None, help="evaluate only the first N samples")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    from bridge.parallel import add_backend_arguments
    add_backend_arguments(parser)


def _parse_engines(text: str) -> list[str]:
    engines = [e.strip() for e in text.split(",") if e.strip()]
    bad = [e for e in engines if e not in ENGINES]
    if not engines or bad:
        raise ValueError(f"--engines: unknown {bad or text!r}; choose from {','.join(ENGINES)}")
    return list(dict.fromkeys(engines))


def run(args) -> int:
    from pathlib import Path

    from bridge import evaluate as E
    from bridge.export import checkpoint_of
    from bridge.runfiles import write_json
    from sim.io import load_network
    from training.data.shd import load_shd

    engines = _parse_engines(args.engines)
    if args.max_samples is not None and args.max_samples < 1:
        raise ValueError(f"--max-samples must be >= 1, got {args.max_samples}")
    if not Path(args.model).exists():
        raise FileNotFoundError(f"{args.model}: no such model file")
    net = load_network(args.model)
    proto = E.ReadoutProtocol.from_network(net, str(args.model))
    ds = load_shd(args.data, n_units=net.n_inputs)
    if ds.n_units != net.n_inputs:
        raise ValueError(f"{args.data}: {ds.n_units} input channels, the model expects {net.n_inputs}")
    ckpt = args.checkpoint or checkpoint_of(net, args.model)
    if "torch" in engines:  # checked before any engine runs, so a bad path never costs the others
        if not ckpt:
            raise ValueError("--engines torch needs the training checkpoint: pass --checkpoint (the model file "
                             "does not name one)")
        if not Path(ckpt).is_file():
            raise ValueError(f"--engines torch: the training checkpoint {ckpt} does not exist (the model file names "
                             "it); pass --checkpoint")
    from bridge.parallel import backend_from_args

    backend = backend_from_args(args)
    results = {}
    for e in engines:
        kw = dict(max_samples=args.max_samples, progress=not args.quiet)
        if e in ("exact", "grid") and (backend.workers > 1 or backend.dask):
            results[e] = E.evaluate_jobs(net, args.data, ds, proto, e, backend, **kw)
        elif e == "exact":
            results[e] = E.evaluate_exact(net, ds, proto, **kw)
        elif e == "grid":
            results[e] = E.evaluate_grid(net, ds, proto, **kw)
        else:
            results[e] = E.evaluate_torch(ckpt, ds, proto, **kw)
    agree = {}
    names = list(results)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pa, pb = results[a]["predictions"], results[b]["predictions"]
            agree[f"{a}/{b}"] = sum(x == y for x, y in zip(pa, pb)) / max(len(pa), 1)
    reported = ((net.metadata.get("provenance") or {}).get("results") or {}).get("accuracy")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"model": str(args.model), "data": str(args.data), "checkpoint": ckpt,
               "protocol": {"dt_s": proto.dt_s, "n_steps": proto.n_steps, "start_s": proto.start_s,
                            "decision_rule": proto.rule},
               "training_reported_accuracy": reported, "engines": results, "prediction_agreement": agree}
    write_json(out / "evaluate.json", summary)
    what = {"exact": "exact engine (continuous delays)", "grid": "grid engine (rounded delays, dt)",
            "torch": "training forward, float64 (rounded delays)"}
    layers = sorted({k for r in results.values() for k in r["layer_rate_hz"]})
    lines = [f"# axon evaluate: {args.model}", "",
             f"Data `{args.data}`, {next(iter(results.values()))['n_samples']} samples; dt {proto.dt_s} s, "
             f"{proto.n_steps} steps from {proto.start_s} s; decision rule `{proto.rule}`.", "",
             "| engine | accuracy | " + " | ".join(f"{l} rate (Hz)" for l in layers) + " | wall (s) |",
             "|---|---|" + "---|" * len(layers) + "---|"]
    for e, r in results.items():
        rates = " | ".join(f"{r['layer_rate_hz'].get(l, float('nan')):.2f}" for l in layers)
        lines.append(f"| {what[e]} | {100 * r['accuracy']:.2f} % | {rates} | {r['wall_s']:.1f} |")
    if reported:
        lines += ["", f"Accuracy reported by training (float32, its own test split): {reported}."]
    if agree:
        lines += ["", "Same prediction on a sample: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in agree.items())]
    (out / "evaluate.md").write_text("\n".join(lines) + "\n")
    if not args.quiet:
        print("\n".join(lines[4:]))
        print(f"results in {out}")
    return 0
