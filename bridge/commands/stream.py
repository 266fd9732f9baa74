"""``axon stream MODEL.h5 AUDIO --out DIR``: a long recording through a model, block by block."""
from __future__ import annotations

import sys
import time
from pathlib import Path

HELP = "run a long recording (WAV/FLAC, any rate) through a model: detections, firing rates, energy proxy"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model file (HDF5, from `axon export` or sim.model.io.save_network)")
    parser.add_argument("audio", nargs="+", help="sound file(s): WAV, FLAC, ... any sample rate, mono or "
                        "multichannel; several files (or folders of them) run as independent jobs")
    parser.add_argument("--out", default=None, help="output folder (default runs/stream/<audio name>); with several "
                        "files, one sub-folder per file (default runs/stream)")
    parser.add_argument("--block", type=float, default=1.0, metavar="S", help="audio read per block, s (default 1)")
    parser.add_argument("--frame", type=float, default=None, metavar="S",
                        help="detector frame / readout sampling, s (default: the model's training step)")
    parser.add_argument("--bin", type=float, default=1.0, metavar="S", help="time-series bin, s (default 1)")
    parser.add_argument("--costs", default="cmos45", help="energy cost table: cmos45 (default), loihi, truenorth")
    parser.add_argument("--raster-start", type=float, default=0.0, metavar="S", help="raster window start, s")
    parser.add_argument("--raster-duration", type=float, default=5.0, metavar="S", help="raster window length, s")
    parser.add_argument("--on-rate", type=float, default=None, metavar="HZ",
                        help="input event rate that opens a segment, at least (default 600)")
    parser.add_argument("--off-rate", type=float, default=None, metavar="HZ",
                        help="input event rate below which a frame is quiet, at least (default 300)")
    parser.add_argument("--on-factor", type=float, default=None,
                        help="opening threshold as a multiple of the tracked background rate (default 3)")
    parser.add_argument("--off-factor", type=float, default=None,
                        help="quiet threshold as a multiple of the tracked background rate (default 2)")
    parser.add_argument("--window", type=float, default=None, metavar="S",
                        help="readout decision window after an onset, s (default 1)")
    parser.add_argument("--min-score", type=float, default=None, help="drop detections scoring below this")
    parser.add_argument("--max-audio", type=float, default=None, metavar="S", help="stop after this much audio")
    parser.add_argument("--keep-spikes", action="store_true",
                        help="also write every spike to spikes.npz (memory grows with the recording)")
    parser.add_argument("--no-report", action="store_true", help="skip the figures and report.md")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    from bridge.parallel import add_backend_arguments
    add_backend_arguments(parser)


class _Progress:
    """One status line: audio seconds done, real-time factor, ETA (at most 2 updates/s)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, done_s, total_s, wall_s, final=False):
        if self.quiet:
            return
        now = time.monotonic()
        if not final and now - self.last < (0.5 if self.tty else 10.0):
            return
        self.last = now
        rtf = wall_s / done_s if done_s > 0 else float("nan")
        eta = max(total_s - done_s, 0.0) * rtf if done_s > 0 else float("nan")
        msg = (f"{done_s:9.1f} / {total_s:.1f} s audio ({100 * done_s / max(total_s, 1e-9):5.1f}%)  "
               f"real-time factor {rtf:.4f}  ETA {_hms(eta)}")
        print(("\r" + msg) if self.tty else msg, end="" if self.tty and not final else "\n", file=sys.stderr,
              flush=True)


def _hms(s: float) -> str:
    if s != s:  # nan
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# the names a user typed, for messages that come from the configuration objects
_OPTION_OF = {"StreamConfig.block_s": "--block", "StreamConfig.frame_s": "--frame", "StreamConfig.bin_s": "--bin",
              "StreamConfig.raster_start_s": "--raster-start", "StreamConfig.raster_duration_s": "--raster-duration",
              "StreamConfig.max_audio_s": "--max-audio", "DetectorConfig.on_rate_hz": "--on-rate",
              "DetectorConfig.off_rate_hz": "--off-rate", "DetectorConfig.on_factor": "--on-factor",
              "DetectorConfig.off_factor": "--off-factor", "DetectorConfig.window_s": "--window",
              "DetectorConfig.min_score": "--min-score", "bin_s=": "--bin ", "frame_s=": "--frame ",
              "StreamConfig.": "--", "DetectorConfig.": "--"}


def _in_option_names(exc: ValueError) -> ValueError:
    msg = str(exc)
    for k, v in _OPTION_OF.items():
        msg = msg.replace(k, v)
    return type(exc)(msg) if type(exc) is not ValueError else ValueError(msg)


def run(args) -> int:
    from sim.model.io import load_network
    from sim.audio.detector import DetectorConfig
    from sim.audio.source import AudioReadError
    from sim.audio.stream import StreamConfig

    from bridge.commands.classify import _collect
    from bridge.streamfiles import stream_to_folder

    from bridge.parallel import backend_from_args

    backend_from_args(args)          # --workers / --dask checked before anything runs
    model = Path(args.model)
    if not model.exists():
        raise FileNotFoundError(f"{model}: no such model file")
    if len(args.audio) == 1 and not Path(args.audio[0]).exists():
        raise FileNotFoundError(f"{args.audio[0]}: no such audio file")
    files = _collect(args.audio)
    net = load_network(model)
    det = {k: v for k, v in (("on_rate_hz", args.on_rate), ("off_rate_hz", args.off_rate),
                             ("window_s", args.window), ("min_score", args.min_score),
                             ("on_factor", args.on_factor), ("off_factor", args.off_factor)) if v is not None}
    try:
        cfg = StreamConfig(block_s=args.block, frame_s=args.frame, bin_s=args.bin, costs=args.costs,
                           raster_start_s=args.raster_start, raster_duration_s=args.raster_duration,
                           detector=DetectorConfig(**det), max_audio_s=args.max_audio, keep_spikes=args.keep_spikes)
        if net.task is None and args.frame is None:
            raise ValueError(f"{model} records no training step: pass --frame (readout sampling, s)")
    except ValueError as e:
        raise _in_option_names(e) from None
    if len(files) > 1 or len(args.audio) > 1 or Path(args.audio[0]).is_dir():
        return _run_many(args, net, files, cfg)
    audio = files[0]
    out = Path(args.out) if args.out else Path("runs") / "stream" / audio.stem
    prog = _Progress(args.quiet)
    try:
        s = stream_to_folder(net, audio, out, cfg, progress=prog)
    except (AudioReadError, KeyboardInterrupt):
        if (out / "summary.json").exists():  # stopped after the run started: say what was kept
            if not args.no_report:
                _report(out)
            print(f"partial results written to {out}/ (summary marked incomplete)", file=sys.stderr)
        raise
    except ValueError as e:  # settings that do not fit the model (frame vs front-end hop, bin vs frame)
        raise _in_option_names(e) from None
    prog(s["audio_processed_s"], s["audio_processed_s"], s["wall_s"], final=True)
    if not args.no_report:
        _report(out)
    a = s["audio"]
    print(f"{s['audio_processed_s']:.1f} s of audio ({a['mixdown']}, {a['sample_rate_hz']:g} Hz"
          f"{' resampled to %g Hz' % a['resampled_to_hz'] if a['resampled_to_hz'] != a['sample_rate_hz'] else ''}) "
          f"in {s['wall_s']:.1f} s, real-time factor {s['real_time_factor']:.4f}, peak memory "
          f"{s['peak_memory_mb']} MB; "
          f"{s['n_detections']} detections; results in {out}/")
    return 0


def _run_many(args, net, files, cfg) -> int:
    """Each recording an independent job (``--workers``/``--dask``), each into ``OUT/<name>/``."""
    from bridge.batch import stream_one, warm_stream
    from bridge.parallel import ProgressLine, backend_from_args, run_jobs
    from bridge.runfiles import write_json
    from sim.errors import InputError

    backend = backend_from_args(args)
    root = Path(args.out) if args.out else Path("runs") / "stream"
    from collections import Counter

    stems = Counter(f.stem for f in files)
    outs, seen = [], set()
    for f in files:   # OUT/<stem>, or OUT/<folder>_<stem> where stems repeat (e.g. one folder per class)
        base = f.stem if stems[f.stem] == 1 else f"{f.parent.name}_{f.stem}"
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base}-{k}"
        seen.add(name)
        outs.append(root / name)
    root.mkdir(parents=True, exist_ok=True)
    absolute = backend.dask is not None
    jobs = [(str(f.resolve()) if absolute else str(f), str(o.resolve()) if absolute else str(o))
            for f, o in zip(files, outs)]
    ctx = {"network": net, "config": cfg, "report": not args.no_report}
    t0 = time.perf_counter()
    outcomes = run_jobs(stream_one, ctx, jobs, [str(f) for f in files], backend, warm=warm_stream,
                        progress=ProgressLine("files", args.quiet, "axon stream"))
    wall = time.perf_counter() - t0
    done = [o.value for o in outcomes if o.ok]
    failed = [{"audio": o.label, "error": o.error} for o in outcomes if not o.ok]
    audio_s = sum(v["audio_processed_s"] or 0.0 for v in done)
    summary = {"model": str(args.model), "backend": backend.describe(), "n_files": len(files), "wall_s": wall,
               "audio_s": audio_s, "files_per_s": len(files) / wall if wall > 0 else None,
               "real_time_factor": wall / audio_s if audio_s > 0 else None, "files": done, "failed": failed}
    write_json(root / "streams.json", summary)
    lines = [f"# axon stream: {len(files)} recordings through `{args.model}`", "",
             f"Run on {backend.describe()}: {audio_s:.1f} s of audio in {wall:.1f} s wall "
             f"(real-time factor {summary['real_time_factor'] or float('nan'):.4f} over all files).", "",
             "| recording | audio (s) | detections | results |", "|---|---|---|---|"]
    lines += [f"| `{v['audio']}` | {v['audio_processed_s']:.1f} | {v['n_detections']} | `{v['out']}` |" for v in done]
    if failed:
        lines += ["", f"**{len(failed)} failed**: " + "; ".join(f"`{x['audio']}`: {x['error']}" for x in failed)]
    (root / "streams.md").write_text("\n".join(lines) + "\n")
    print(f"{len(done)} of {len(files)} recordings, {audio_s:.1f} s of audio in {wall:.1f} s on {backend.describe()}; "
          f"results in {root}/ (streams.json, streams.md)")
    if failed:
        raise InputError(f"{len(failed)} of {len(files)} recordings failed ({', '.join(x['audio'] for x in failed[:3])}"
                         f"{', ...' if len(failed) > 3 else ''}); the others are in {root}/")
    return 0


def _report(out: Path):
    from bridge.commands.report import make_report
    try:
        make_report(out)
    except Exception as e:  # a figure must never hide the run's own result or error
        print(f"axon stream: warning: report not written ({e})", file=sys.stderr)
