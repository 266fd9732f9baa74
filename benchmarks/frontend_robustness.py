"""Front-end encoders side by side: events per second of speech and of noise alone, and how
many per-step event counts change under a gain change or added noise.

    python -m benchmarks.frontend_robustness --out runs/frontend_robustness

Speech: 20 espeak-ng words (the digits "zero".."nine", English, two voices), each at
-20 dBFS RMS with 0.1 s of silence either side. Change = sum over (10 ms step, channel)
of |count - count of the reference| / reference events: 0 = the network sees the same
input, 1 = as many events differ as there were. Writes ``frontend_robustness.json`` and
``frontend_robustness.md``.
"""
from __future__ import annotations

import argparse

import numpy as np

from sim.audio.frontend import FrontEnd, FrontEndConfig, normalize_rms
from bridge.runfiles import write_results

FS = 16000.0


def _binned(ev, n_channels, dur_s):
    h = np.zeros((int(dur_s * 100) + 1, n_channels))
    np.add.at(h, (np.floor(ev.times_s * 100).astype(int), ev.channels), 1)
    return h


def words():
    from training.data.synth import WORDS, VoiceParams, synthesize_word

    out = []
    for variant, english in (("m3", "en"), ("f2", "en-us")):
        for w in WORDS["en"]:
            x = normalize_rms(synthesize_word(w, "en", VoiceParams(variant, 50, 160, english)).astype(np.float64), -20)
            z = np.zeros(int(0.1 * FS))
            out.append(np.concatenate([z, x, z]))
    return out


def measure(cfg: FrontEndConfig, speech: list[np.ndarray]) -> dict:
    rng = np.random.default_rng(0)
    n_ev, dur = 0, 0.0
    change = {"gain -6 dB": 0.0, "gain +6 dB": 0.0, "gain -20 dB": 0.0, "white noise 20 dB SNR": 0.0,
              "white noise 10 dB SNR": 0.0}
    for x in speech:
        d = x.shape[0] / FS
        ref = _binned(FrontEnd(cfg).process(x), cfg.n_channels, d)
        n_ev += ref.sum()
        dur += d
        noise = rng.standard_normal(x.shape[0]) * 10 ** (-20 / 20)  # unit-RMS noise at the speech level
        for name, y in (("gain -6 dB", x * 10 ** (-6 / 20)), ("gain +6 dB", x * 10 ** (6 / 20)),
                        ("gain -20 dB", x * 0.1), ("white noise 20 dB SNR", x + noise * 0.1),
                        ("white noise 10 dB SNR", x + noise * 10 ** (-10 / 20))):
            change[name] += np.abs(_binned(FrontEnd(cfg).process(y), cfg.n_channels, d) - ref).sum()
    out = {"speech_events_per_s": n_ev / dur, "change": {k: v / n_ev for k, v in change.items()}}
    noise = rng.standard_normal(int(5 * FS))
    out["noise_only_events_per_s"] = {}
    for level in (-60, -40, -20):
        ev = FrontEnd(cfg).process(noise * 10 ** (level / 20))
        out["noise_only_events_per_s"][f"{level} dBFS"] = float(np.count_nonzero(ev.times_s >= 0.5) / 4.5)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/frontend_robustness")
    args = p.parse_args(argv)
    speech = words()
    res = {"delta (default)": measure(FrontEndConfig(), speech), "robust": measure(FrontEndConfig.robust(), speech),
           "robust, AGC range 25 dB": measure(FrontEndConfig.robust(agc_range_db=25.0), speech)}
    keys = list(next(iter(res.values()))["change"])
    lines = ["| encoder | speech events/s | noise alone -60 / -40 / -20 dBFS, events/s | "
             + " | ".join(f"change: {k}" for k in keys) + " |", "|---|---|---|" + "---|" * len(keys)]
    for name, r in res.items():
        nz = " / ".join(f"{v:.0f}" for v in r["noise_only_events_per_s"].values())
        lines.append(f"| {name} | {r['speech_events_per_s']:.0f} | {nz} | "
                     + " | ".join(f"{100 * r['change'][k]:.0f} %" for k in keys) + " |")
    write_results(args.out, "frontend_robustness", res, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
