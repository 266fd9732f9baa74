"""``axon evaluate MODEL.h5 DATA.h5 [DATA2.h5 ...] --engines exact,grid[,torch] --out DIR``:
accuracy and hidden firing rates of one model on SHD-format data sets, engine by engine,
side by side. Each data file is one *condition* (clean, held-out voice families, a noise at
an SNR, reverberant, ...) reported separately; with a ``dataset.json`` beside a file (as
``axon data synth`` writes) accuracy is also broken down per voice (English base voice and
espeak-ng variant of each speaker).

exact: continuous time, the learned delays in seconds (unrounded); grid: the training dt,
delays rounded as in training; torch: the training forward pass itself (float64, from the
checkpoint the model was exported from). One decision rule and one binning for all.
"""
from __future__ import annotations

HELP = "accuracy and hidden rates of a model file on an SHD-format data set per engine (exact, grid, torch)"

ENGINES = ("exact", "grid", "torch")


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5, written by axon export)")
    parser.add_argument("data", nargs="+", help="SHD-format data set file(s), one per condition "
                        "(e.g. data/synth_digits/synth_test.h5 data/synth_digits/synth_test_family_hum_10db.h5)")
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


def condition_name(path, ds) -> str:
    """``split/condition`` from the file's attributes (``axon data synth`` writes them), else
    the file name without extension."""
    from pathlib import Path

    attrs = getattr(ds, "attrs", {}) or {}
    split, cond = attrs.get("split"), attrs.get("condition")
    if split and cond:
        return str(split) if cond == "clean" else f"{split}/{cond}"
    return Path(path).stem


def voices_of(path) -> dict[int, dict]:
    """Speaker id -> voice (variant, english, pitch, speed) from the ``dataset.json`` beside
    ``path``; empty if there is none."""
    import json
    from pathlib import Path

    meta = Path(path).parent / "dataset.json"
    if not meta.exists():
        return {}
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for entry in (info.get("splits") or {}).values():
        for sp in entry.get("speakers") or []:
            if "id" in sp:
                out[int(sp["id"])] = sp
    return out


def per_voice(labels, predictions, speakers, voices: dict[int, dict]) -> dict:
    """Accuracy grouped by the English base voice and by the variant of each speaker
    (``{"english": {name: {"accuracy", "n"}}, "variant": {...}}``); {} without voices."""
    import numpy as np

    if not voices:
        return {}
    labels, predictions, speakers = (np.asarray(a) for a in (labels, predictions, speakers))
    out = {}
    for key in ("english", "variant"):
        groups: dict[str, list[int]] = {}
        for i, sp in enumerate(speakers):
            v = voices.get(int(sp))
            groups.setdefault(str(v.get(key)) if v else "?", []).append(i)
        out[key] = {g: {"accuracy": float(np.mean(predictions[idx] == labels[idx])), "n": len(idx)}
                    for g, idx in sorted(groups.items())}
    return out


def run(args) -> int:
    from pathlib import Path

    from bridge import evaluate as E
    from bridge.export import checkpoint_of
    from bridge.parallel import backend_from_args
    from bridge.runfiles import write_json
    from sim.model.io import load_network
    from training.data.shd import load_shd

    engines = _parse_engines(args.engines)
    if args.max_samples is not None and args.max_samples < 1:
        raise ValueError(f"--max-samples must be >= 1, got {args.max_samples}")
    if not Path(args.model).exists():
        raise FileNotFoundError(f"{args.model}: no such model file")
    net = load_network(args.model)
    proto = E.ReadoutProtocol.from_network(net, str(args.model))
    ckpt = args.checkpoint or checkpoint_of(net, args.model)
    if "torch" in engines:  # checked before any engine runs, so a bad path never costs the others
        if not ckpt:
            raise ValueError("--engines torch needs the training checkpoint: pass --checkpoint (the model file "
                             "does not name one)")
        if not Path(ckpt).is_file():
            raise ValueError(f"--engines torch: the training checkpoint {ckpt} does not exist (the model file names "
                             "it); pass --checkpoint")
    data_paths = list(args.data)
    sets = []
    for path in data_paths:
        ds = load_shd(path, n_units=net.n_inputs)
        if ds.n_units != net.n_inputs:
            raise ValueError(f"{path}: {ds.n_units} input channels, the model expects {net.n_inputs}")
        E.check_frontend(path, ds, net)
        sets.append((path, ds))
    backend = backend_from_args(args)
    conditions = {}
    for path, ds in sets:
        name = condition_name(path, ds)
        while name in conditions:
            name += "'"
        results = {}
        for e in engines:
            kw = dict(max_samples=args.max_samples, progress=not args.quiet)
            if e in ("exact", "grid") and (backend.workers > 1 or backend.dask):
                results[e] = E.evaluate_jobs(net, path, ds, proto, e, backend, **kw)
            elif e == "exact":
                results[e] = E.evaluate_exact(net, ds, proto, **kw)
            elif e == "grid":
                results[e] = E.evaluate_grid(net, ds, proto, **kw)
            else:
                results[e] = E.evaluate_torch(ckpt, ds, proto, **kw)
        voices = voices_of(path)
        sizes = {l.name: l.size for l in net.layers}
        for r in results.values():
            # Over every hidden neuron (a layer counts by its size), as training reports it.
            lr = r["layer_rate_hz"]
            r["mean_hidden_rate_hz"] = (sum(v * sizes[k] for k, v in lr.items()) / sum(sizes[k] for k in lr)
                                        if lr else float("nan"))
            n = len(r["predictions"])
            r["per_voice"] = per_voice(ds.labels[:n], r["predictions"], ds.speakers[:n], voices)
        agree = {}
        names = list(results)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                pa, pb = results[a]["predictions"], results[b]["predictions"]
                agree[f"{a}/{b}"] = sum(x == y for x, y in zip(pa, pb)) / max(len(pa), 1)
        conditions[name] = {"data": str(path), "engines": results, "prediction_agreement": agree}
    reported = ((net.metadata.get("provenance") or {}).get("results") or {}).get("accuracy")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    first = next(iter(conditions.values()))
    summary = {"model": str(args.model), "data": data_paths[0] if len(data_paths) == 1 else data_paths,
               "checkpoint": ckpt,
               "protocol": {"dt_s": proto.dt_s, "n_steps": proto.n_steps, "start_s": proto.start_s,
                            "decision_rule": proto.rule},
               "training_reported_accuracy": reported,
               # The first condition's figures at the top level, as with one data file.
               "engines": first["engines"], "prediction_agreement": first["prediction_agreement"],
               "conditions": conditions}
    write_json(out / "evaluate.json", summary)
    what = {"exact": "exact engine (continuous delays)", "grid": "grid engine (rounded delays, dt)",
            "torch": "training forward, float64 (rounded delays)"}
    layers = sorted({k for c in conditions.values() for r in c["engines"].values() for k in r["layer_rate_hz"]})
    lines = [f"# axon evaluate: {args.model}", "",
             f"{len(conditions)} data set(s); dt {proto.dt_s} s, {proto.n_steps} steps from {proto.start_s} s; "
             f"decision rule `{proto.rule}`.", "",
             "| condition | engine | samples | accuracy | mean hidden rate (Hz) | "
             + " | ".join(f"{l} rate (Hz)" for l in layers) + " | wall (s) |",
             "|---|---|---|---|---|" + "---|" * len(layers) + "---|"]
    for name, c in conditions.items():
        for e, r in c["engines"].items():
            rates = [r["layer_rate_hz"].get(l, float("nan")) for l in layers]
            lines.append(f"| {name} | {what[e]} | {r['n_samples']} | {100 * r['accuracy']:.2f} % | "
                         f"{r['mean_hidden_rate_hz']:.2f} | "
                         + " | ".join(f"{x:.2f}" for x in rates) + f" | {r['wall_s']:.1f} |")
    if reported:
        lines += ["", f"Accuracy reported by training (float32, its own test split): {reported}."]
    for name, c in conditions.items():
        if c["prediction_agreement"]:
            lines += ["", f"Same prediction on a sample ({name}): "
                      + ", ".join(f"{k} {100 * v:.1f} %" for k, v in c["prediction_agreement"].items())]
    for name, c in conditions.items():
        e, r = next(iter(c["engines"].items()))
        pv = r.get("per_voice") or {}
        if pv:
            lines += ["", f"Per voice, {name} ({e}):", "",
                      "| English base voice | accuracy | samples |", "|---|---|---|"]
            lines += [f"| {g} | {100 * v['accuracy']:.1f} % | {v['n']} |" for g, v in pv["english"].items()]
            lines += ["", "| variant | accuracy | samples |", "|---|---|---|"]
            lines += [f"| {g} | {100 * v['accuracy']:.1f} % | {v['n']} |" for g, v in pv["variant"].items()]
    (out / "evaluate.md").write_text("\n".join(lines) + "\n")
    if not args.quiet:
        print("\n".join(lines[4:4 + 2 + sum(len(c["engines"]) for c in conditions.values())]))
        print(f"results in {out}")
    return 0
