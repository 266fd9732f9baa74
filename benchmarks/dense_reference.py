"""A non-spiking reference on the same audio: how much of the noise problem is in the audio
and how much in the spike encoding and the spiking network.

    python -m benchmarks.dense_reference --out runs/dense_reference

The digits' robust data (the training mix of ``training/configs/digits.toml``: 100 speakers
x 4, SNR -5..25 dB, gains -30..+10 dB, seven noise kinds; evaluation on the held-out voice
families in every held-out condition) are rendered again, utterance for utterance the audio
that ``axon data synth`` encodes (``training.data.synth.render_audio``), but each is turned
into the front end's dense log envelope (``sim.audio.frontend.band_levels``: the same 32-band
filterbank and envelope every encoder reads), averaged over 10 ms steps -- the picture before
any event is sent. A small convolutional network (no spikes, no delays) is trained on it with
the same masking, budget and validation choice as the spiking runs, and evaluated on the
same held-out conditions. If it does much better than the spiking network, the loss is in the
encoding or the spiking model; if it does no better, the audio itself is that hard.

Writes ``dense_reference.json``, ``dense_reference.md`` (accuracy per condition) and
``features.npz`` (the envelopes; ``--features`` reuses them for other seeds or widths).
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from bridge.runfiles import write_json, write_text

STEP_S = 0.01
N_STEPS = 100

TRAIN_AUGMENT = {"snr_db": (-5.0, 25.0), "gain_db": (-30.0, 10.0),
                 "noise_kinds": ("white", "pink", "brown", "blue", "babble", "bursts", "speech_shaped")}


def _features(args):
    """Worker: one job -> [(steps, bands) float32] for each of its versions."""
    from sim.audio.frontend import band_levels
    from training.data.synth import render_audio

    job, config = args
    hop = config.frontend.hop_samples
    per_step = int(round(STEP_S * config.frontend.sample_rate_hz / hop))
    out = []
    for x, _rec in render_audio(job, config):
        lv = band_levels(x, config.frontend)
        n = min(lv.shape[0] // per_step, N_STEPS)
        f = np.full((N_STEPS, lv.shape[1]), np.nan, dtype=np.float32)
        f[:n] = lv[:n * per_step].reshape(n, per_step, -1).mean(1)
        out.append(f)
    return out


def render(config, splits, workers: int, progress: bool):
    """{data set name: (features (n, steps, bands), labels (n,))} for the splits' versions."""
    import multiprocessing as mp

    from training.data.synth import _plan, dataset_names, make_speakers, version_index

    jobs = [j for j in _plan(config, make_speakers(config)) if j.split in splits]
    args = [(j, config) for j in jobs]
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(args), unit="utt", desc="render")
    res = []
    with mp.get_context("spawn").Pool(workers) as pool:
        for r in pool.imap(_features, args, chunksize=16):
            res.append(r)
            if progress:
                bar.update()
    if progress:
        bar.close()
    out = {}
    for name in dataset_names(config, splits):
        split = name.partition("/")[0]
        v = version_index(name, config)
        idx = [i for i, j in enumerate(jobs) if j.split == split]
        out[name] = (np.stack([res[i][v] for i in idx]), np.array([jobs[i].label for i in idx], dtype=np.int64))
    return out


def _normalise(x):
    """Per utterance and band: levels minus their mean over the utterance, over their
    standard deviation (mean and variance normalisation; steps past the audio are 0)."""
    import torch

    m = torch.isfinite(x)
    x0 = torch.where(m, x, torch.zeros_like(x))
    n = m.sum(1, keepdim=True).clamp_min(1)
    mean = x0.sum(1, keepdim=True) / n
    var = (torch.where(m, x - mean, torch.zeros_like(x)) ** 2).sum(1, keepdim=True) / n
    return torch.where(m, (x - mean) / (var.sqrt() + 1e-3), torch.zeros_like(x))


def make_net(n_bands: int, n_classes: int, width: int = 128):
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv1d(n_bands, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Conv1d(width, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Conv1d(width, width, 5, padding=4, dilation=2), nn.BatchNorm1d(width), nn.ReLU(),
        nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(width, n_classes))


def train_and_evaluate(data: dict, epochs: int, seed: int, width: int, progress: bool) -> dict:
    """Train the reference with the spiking runs' masking (``training.masking.mask_inputs``,
    ``digits.toml``'s settings, one band per level channel, zeroed after normalisation) and
    Adam with a cosine schedule; keep the best validation epoch; accuracy of every data set."""
    import torch

    from training.masking import mask_inputs

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    prep = {k: (_normalise(torch.from_numpy(x)), torch.from_numpy(y)) for k, (x, y) in data.items()}
    xtr, ytr = prep["train"]
    band_of = np.arange(xtr.shape[2])
    n_classes = int(max(int(y.max()) for _, y in prep.values())) + 1
    net = make_net(xtr.shape[2], n_classes, width)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    n_batches = math.ceil(len(ytr) / 64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * n_batches)

    def accuracy(x, y):
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(x[i:i + 512].transpose(1, 2)).argmax(-1) for i in range(0, len(y), 512)])
        return float((pred == y).double().mean())

    best, best_state, history = -1.0, None, []
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(ytr), generator=gen)
        t0 = time.time()
        for b in range(n_batches):
            idx = perm[b * 64:(b + 1) * 64]
            xb = mask_inputs(xtr[idx], gen, band_of, band_masks=2, band_mask_width=5, time_masks=2, time_mask_steps=8)
            loss = torch.nn.functional.cross_entropy(net(xb.transpose(1, 2)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        va = accuracy(*prep["valid"])
        history.append({"epoch": ep + 1, "valid_accuracy": va, "epoch_time_s": time.time() - t0})
        if progress:
            print(f"epoch {ep + 1}: valid {va:.3f} ({time.time() - t0:.0f} s)", flush=True)
        if va > best:
            best, best_state = va, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    acc = {k: accuracy(x, y) for k, (x, y) in prep.items()}
    return {"accuracy": acc, "best_valid": best, "history": history,
            "n_parameters": int(sum(p.numel() for p in net.parameters()))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/dense_reference")
    ap.add_argument("--speakers", type=int, default=100)
    ap.add_argument("--repetitions", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--width", type=int, default=128, help="channels of each convolution (default 128)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--noise-kinds", default=",".join(TRAIN_AUGMENT["noise_kinds"]),
                    help="training noises, comma-separated, drawn uniformly (a kind named twice is drawn twice as "
                         "often); default the digits' mix")
    ap.add_argument("--features", default=None,
                    help="reuse the envelopes saved by an earlier run (its features.npz) instead of rendering")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    import torch

    from training.data.augment import AugmentConfig
    from training.data.synth import robust_recipe

    torch.set_num_threads(1)
    t0 = time.time()
    common = dict(n_speakers=args.speakers, n_family_speakers=12)
    kinds = tuple(k.strip() for k in args.noise_kinds.split(",") if k.strip())
    augment = AugmentConfig(**{**TRAIN_AUGMENT, "noise_kinds": kinds})
    train_cfg = robust_recipe("default", repetitions=args.repetitions, augment=augment, **common)
    eval_cfg = robust_recipe("default", repetitions=2, **common)  # data/digits_robust's evaluation files
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.features:
        with np.load(args.features) as z:
            names = [str(n) for n in z["names"]]
            data = {n: (z[f"x{i}"], z[f"y{i}"]) for i, n in enumerate(names)}
    else:
        data = render(train_cfg, ("train", "valid"), args.workers, not args.quiet)
        data.update(render(eval_cfg, ("test", "test_family"), args.workers, not args.quiet))
        arrays = {"names": np.array(list(data))}
        for i, (x, y) in enumerate(data.values()):
            arrays[f"x{i}"], arrays[f"y{i}"] = x, y
        tmp = out / "features.tmp.npz"
        np.savez_compressed(tmp, **arrays)
        tmp.replace(out / "features.npz")
    t_render = time.time() - t0
    res = train_and_evaluate(data, args.epochs, args.seed, args.width, not args.quiet)
    res.update({"noise_kinds": list(kinds), "render_s": round(t_render, 1), "total_s": round(time.time() - t0, 1), "epochs": args.epochs,
                "speakers": args.speakers, "repetitions": args.repetitions, "seed": args.seed,
                "n_samples": {k: int(len(y)) for k, (_, y) in data.items()}})
    res["features"] = args.features or str(out / "features.npz")
    write_json(out / "dense_reference.json", res)
    lines = ["| data set | samples | accuracy |", "|---|---|---|"]
    lines += [f"| {k} | {res['n_samples'][k]} | {100 * v:.2f} % |" for k, v in res["accuracy"].items()]
    write_text(out / "dense_reference.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"({res['n_parameters']} trained values; rendering {t_render:.0f} s, total {res['total_s']:.0f} s) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
