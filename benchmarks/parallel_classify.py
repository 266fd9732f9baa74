"""Files per second of ``axon classify`` with 1 and 2 local workers, and identical predictions.

    .venv/bin/python -m benchmarks.parallel_classify --model runs/quick/digits.h5 --out runs/parallel

Writes ``--n-voices`` x 20 utterances (espeak-ng, one folder per class, 16 kHz WAV) if
``OUT/wavs`` does not exist yet, then runs ``axon classify MODEL OUT/wavs --workers N`` in
fresh processes, interleaved ``1, 2, 2, 1`` per repetition (so slow drifts of the machine's
load hit both alike), and reads files/s of the job phase (after start-up) from each run's
JSON. Prints one JSON line per run and a table with the 1-minute load average before each
run, and checks that every ``--workers 2`` CSV equals the ``--workers 1`` CSV. On a shared
machine the ratio says more about the other sessions than about axon: Linux's autogroup
scheduler gives each session one share (see README, "Many files").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bridge.runfiles import write_json


def make_wavs(out: Path, class_names: list[str], n_voices: int) -> int:
    import numpy as np
    import soundfile as sf

    from training.data.synth import SynthConfig, WORDS, make_speakers, synthesize_word

    speakers = [s for s in make_speakers(SynthConfig()) if s.split == "test"][:n_voices]
    n = 0
    for sp in speakers:
        for label in range(20):
            lang = "de" if label >= 10 else "en"
            x = synthesize_word(WORDS[lang][label % 10], lang, sp.voice, sample_rate=16000.0)
            x = x * (10 ** (-20 / 20) / max(1e-9, float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))))
            x = np.concatenate([np.zeros(1600, np.float32), x.astype(np.float32)])
            d = out / class_names[label]
            d.mkdir(parents=True, exist_ok=True)
            sf.write(d / f"spk{sp.id}.wav", x, 16000, subtype="PCM_16")
            n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a trained model file (with its task: class names, front end)")
    ap.add_argument("--out", default="runs/parallel")
    ap.add_argument("--n-voices", type=int, default=2, help="utterances = 20 x this (default 40)")
    ap.add_argument("--reps", type=int, default=2, help="repetitions of 1, 2, 2, 1 workers")
    args = ap.parse_args()
    from sim.model.io import load_network

    out = Path(args.out)
    wavs = out / "wavs"
    if not wavs.exists():
        print(f"{make_wavs(wavs, load_network(args.model).class_names, args.n_voices)} utterances -> {wavs}",
              file=sys.stderr)
    runs = []
    for rep in range(args.reps):
        for w in (1, 2, 2, 1):
            load = float(open("/proc/loadavg").read().split()[0]) if os.path.exists("/proc/loadavg") else None
            csv = out / f"r{rep}_w{w}_{sum(1 for r in runs if r['rep'] == rep and r['workers'] == w)}.csv"
            subprocess.run([sys.executable, "-m", "bridge.cli", "classify", args.model, str(wavs), "--out", str(csv),
                            "--quiet", "--workers", str(w)], check=True, stdout=subprocess.DEVNULL)
            s = json.loads(csv.with_suffix(".json").read_text())
            r = {"rep": rep, "workers": w, "load_before": load, "files_per_s": s["files_per_s"], "jobs_s": s["jobs_s"],
                 "warm_s": s["warm_s"], "cpu_s_per_file": s.get("cpu_s_per_file"), "n_files": s["n_files"],
                 "accuracy": s["accuracy"], "csv": str(csv)}
            runs.append(r)
            print(json.dumps(r))
    base = Path(next(r["csv"] for r in runs if r["workers"] == 1)).read_text()
    identical = all(Path(r["csv"]).read_text() == base for r in runs)
    f1 = [r["files_per_s"] for r in runs if r["workers"] == 1]
    f2 = [r["files_per_s"] for r in runs if r["workers"] == 2]
    summary = {"model": args.model, "n_files": runs[0]["n_files"], "median_files_per_s_1": statistics.median(f1),
               "median_files_per_s_2": statistics.median(f2),
               "ratio": statistics.median(f2) / statistics.median(f1), "predictions_identical": identical,
               "load_range": [min(r["load_before"] for r in runs), max(r["load_before"] for r in runs)]
               if runs[0]["load_before"] is not None else None, "runs": runs}
    write_json(out / "parallel.json", summary)
    print(f"| workers | files/s (median of {len(f1)}) |\n|---|---|\n| 1 | {summary['median_files_per_s_1']:.2f} |\n"
          f"| 2 | {summary['median_files_per_s_2']:.2f} |\nratio {summary['ratio']:.2f}; predictions identical: "
          f"{identical}; load average {summary['load_range']}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
