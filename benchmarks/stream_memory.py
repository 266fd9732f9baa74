"""Peak memory of `axon stream` does not grow with the recording: 10 vs 60 minutes.

    .venv/bin/python -m benchmarks.stream_memory --minutes 10 60 --out runs/stream_memory

Each length runs in a fresh child process (same model, same synthetic WAV, read block by
block and cut at ``--minutes``), which reports its own peak RSS (``ru_maxrss``) and
wall time. Prints one JSON object per run and a table, and the ratio of the peaks; the
claim holds when the peaks differ by less than 10%.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def child(model: str, audio: str, minutes: float, out: str) -> dict:
    from bridge.streamfiles import stream_to_folder
    from sim.audio.stream import StreamConfig
    from sim.model.io import load_network

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    net = load_network(model)
    t = time.time()
    s = stream_to_folder(net, audio, out, StreamConfig(max_audio_s=minutes * 60.0))
    return {"minutes": minutes, "audio_s": s["audio_processed_s"], "wall_s": time.time() - t,
            "real_time_factor": s["real_time_factor"], "n_detections": s["n_detections"],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_mib_at_start": rss_start}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    ap.add_argument("--out", default="runs/stream_memory")
    ap.add_argument("--audio", default=None, help="WAV at least max(--minutes) long (default: build the "
                                                  "synthetic stream of benchmarks.stream_60min)")
    ap.add_argument("--model", default=None, help="model file (default: the random development network)")
    ap.add_argument("--child", nargs=4, metavar=("MODEL", "AUDIO", "MINUTES", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        m, a, mins, o = args.child
        print(json.dumps(child(m, a, float(mins), o)))
        return 0

    from benchmarks.stream_60min import build_stream, random_audio_network
    from sim.model.io import save_network

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    longest = max(args.minutes)
    if args.audio:
        audio = Path(args.audio)
    else:
        audio = Path("runs/stream60") / "synth_60min_seed0.wav"
        if longest > 60 or not audio.exists():
            audio = out / f"synth_{longest:g}min_seed0.wav"
            if not audio.exists():
                build_stream(audio, longest, seed=0)
    model = Path(args.model) if args.model else out / "random_model.h5"
    if not args.model:
        save_network(model, random_audio_network(seed=0))
    results = []
    for mins in args.minutes:
        cmd = [sys.executable, "-m", "benchmarks.stream_memory", "--child", str(model), str(audio), str(mins),
               str(out / f"run_{mins:g}min")]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            return 1
        r = json.loads(p.stdout.strip().splitlines()[-1])
        results.append(r)
        print(json.dumps(r), flush=True)
    print(f"\n{'minutes':>8} {'audio s':>8} {'wall s':>8} {'RTF':>7} {'peak RSS MiB':>13}")
    for r in results:
        print(f"{r['minutes']:8g} {r['audio_s']:8.0f} {r['wall_s']:8.1f} {r['real_time_factor']:7.4f} "
              f"{r['peak_rss_mib']:13.1f}")
    peaks = [r["peak_rss_mib"] for r in results]
    rel = (max(peaks) - min(peaks)) / min(peaks)
    from bridge.runfiles import write_json

    summary = {"runs": results, "peak_rss_relative_difference": rel, "holds_below_10_percent": rel < 0.10,
               "command": "python -m benchmarks.stream_memory " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_json(out / "stream_memory.json", summary)
    print(f"peak RSS relative difference: {100 * rel:.2f}% ({'< 10%: holds' if rel < 0.10 else '>= 10%: FAILS'})")
    return 0 if rel < 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
