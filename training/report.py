"""Results of a training run for machines (``results.json``) and people (``report.md``,
``curves.png``, ``delays.png``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["write_report"]


def write_report(out_dir, results: dict, model, test_eval: dict | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    hist = results["history"]
    figs = {}
    if hist:
        ep = [h["epoch"] for h in hist]
        fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
        ax[0].plot(ep, [h["train_loss"] for h in hist], label="train (Gaussian delays)")
        ax[0].plot(ep, [h["valid_loss"] for h in hist], label="valid (rounded delays)")
        ax[0].set(title="Loss", xlabel="epoch", ylabel="cross-entropy")
        ax[0].legend()
        ax[1].plot(ep, [h["train_accuracy"] for h in hist], label="train (Gaussian delays)")
        ax[1].plot(ep, [h["valid_accuracy"] for h in hist], label="valid (rounded delays)")
        ax[1].set(title="Accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
        ax[1].legend()
        rates = np.array([h["valid_rate_hz"] for h in hist])
        for l in range(rates.shape[1]):
            ax[2].plot(ep, rates[:, l], label=f"hidden{l}")
        ax2 = ax[2].twinx()
        ax2.plot(ep, [h["sigma"] for h in hist], "k--", label="sigma")
        ax2.set_ylabel("delay kernel sigma (steps)")
        ax[2].set(title="Hidden firing rate (valid) and sigma", xlabel="epoch", ylabel="mean rate (Hz)")
        ax[2].legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(out / "curves.png", dpi=110)
        plt.close(fig)
        figs["curves.png"] = "Training curves: loss and accuracy per epoch (train with Gaussian delay kernels, " \
                             "validation with rounded delays), hidden firing rates and the kernel width sigma."
    delays = results["delays"]
    fig, axes = plt.subplots(1, len(delays), figsize=(4 * len(delays), 3.2), squeeze=False)
    for ax, d in zip(axes[0], delays):
        h = np.asarray(d["histogram"])
        x = np.arange(h.size) * model.dt_s * 1e3
        ax.bar(x, h, width=model.dt_s * 1e3 * 0.9)
        # At least a few steps of axis, so that an all-zero projection ("none") shows one
        # narrow bar at 0 ms rather than a block spanning the whole plot.
        ax.set_xlim(-model.dt_s * 1e3, max(h.size, 5) * model.dt_s * 1e3)
        ax.set(title=f"{d['projection']} ({d['mode']})", xlabel="delay (ms)", ylabel="synapses")
    fig.tight_layout()
    fig.savefig(out / "delays.png", dpi=110)
    plt.close(fig)
    figs["delays.png"] = "Histogram of the rounded synaptic delays of each projection (ms)."

    with open(out / "results.json", "w") as fh:
        json.dump(results, fh, indent=1)

    acc, rate = results["accuracy"], results["rate_hz"]
    lines = [
        "# Training report",
        "",
        f"Delays: `{results['config']['model']['delays']}` (max {results['config']['model']['max_delay_steps']} steps"
        f" of {results['config']['data']['dt_s'] * 1e3:g} ms); hidden layers {results['config']['model']['hidden']};"
        f" {results['n_parameters']} trained parameters; seed {results['config']['train']['seed']}.",
        f"Selected epoch {results['selected_epoch']} ({results['config']['train']['select']}); "
        f"training {results['train_time_s']:.0f} s"
        + (f"; wall clock of the run incl. data loading and evaluation {results['wall_time_s']:.0f} s."
           if "wall_time_s" in results else "."),
        "",
        "All accuracies are with rounded (integer-step) delays, the network that is exported.",
        "",
        "| split | samples | accuracy | loss | mean hidden rate (Hz) | per layer (Hz) |",
        "|---|---|---|---|---|---|",
    ]
    for k in ("train", "valid", "test"):
        lines.append(f"| {k} | {results['n_samples'][k]} | {acc[k]:.4f} | {results['loss'][k]:.3f} | "
                     f"{results['mean_hidden_rate_hz'][k]:.2f} | {', '.join(f'{r:.2f}' for r in rate[k])} |")
    lines += ["", "| projection | mode | mean delay (ms) |", "|---|---|---|"]
    for d in delays:
        lines.append(f"| {d['projection']} | {d['mode']} | {d['mean_delay_s'] * 1e3:.1f} |")
    lines.append("")
    for name, cap in figs.items():
        lines += [f"![{name}]({name})", "", f"*{cap}*", ""]
    (out / "report.md").write_text("\n".join(lines))
