"""``axon data synth|gsc|info``: make or convert spike datasets (SHD-format HDF5).

* ``axon data synth --out data/synth_digits [--size quick|small|default] [--seed N] [--workers 2]``
  speaks the 20 digit words with espeak-ng voices and encodes them with the audio front end;
  ``--recipe robust`` adds held-out voice families, augmentation and evaluation conditions
  (``--frontend delta|robust``, ``--no-augment``), ``--vocabulary gsc35`` the 35 keywords.
* ``axon data gsc ROOT --out DIR [--words yes,no,...] [--max-per-class N]`` converts a Google
  Speech Commands folder (class folders of WAVs, ``validation_list.txt``/``testing_list.txt``).
* ``axon data info FILE.h5`` prints what an SHD-format file holds.
* ``axon data speech --out FILE.wav [--minutes 1] [--seed N]`` writes a long recording of
  synthetic spoken digits with pauses and noise (and ``FILE.onsets.csv``) for ``axon stream``.
"""
from __future__ import annotations

HELP = "make or convert datasets: synthetic spoken digits (espeak-ng), Google Speech Commands folders, SHD files"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="KIND")

    s = sub.add_parser("synth", help="synthetic spoken digits (espeak-ng, 20 classes EN+DE, speaker-disjoint splits)")
    s.add_argument("--out", default="data/synth_digits", help="output folder (default data/synth_digits)")
    s.add_argument("--size", default="default",
                   help="tiny (60 utterances) | small (240) | quick (800) | default (4800) | large (16000)")
    s.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    s.add_argument("--workers", type=int, default=2, help="worker processes (does not change the result)")
    s.add_argument("--noise-snr-db", type=float, default=None, help="add white noise at this SNR (dB)")
    s.add_argument("--recipe", choices=("plain", "robust"), default="plain",
                   help="plain (default): the original recipe; robust: more voices, held-out voice families "
                        "(split test_family), augmentation of train/valid, evaluation conditions of the test splits")
    s.add_argument("--frontend", choices=("delta", "robust"), default=None,
                   help="front-end encoder (default: delta for --recipe plain, robust for --recipe robust)")
    s.add_argument("--no-augment", action="store_true", help="--recipe robust without augmentation")
    s.add_argument("--augment", action="append", default=[], metavar="KEY=VALUE",
                   help="--recipe robust: change one augmentation setting (training.data.augment.AugmentConfig; "
                        "VALUE in TOML syntax), e.g. --augment 'snr_db=[-5, 25]' "
                        "--augment 'noise_kinds=[\"white\", \"bursts\"]'; repeatable")
    s.add_argument("--clean-twins", action="store_true",
                   help="--recipe robust: also write the clean twin of every augmented training utterance "
                        "(synth_train_twin.h5, same order; for train.consistency)")
    s.add_argument("--frontend-set", action="append", default=[], metavar="KEY=VALUE",
                   help="change one front-end setting (sim.audio.frontend.FrontEndConfig; VALUE in TOML syntax) "
                        "over the encoder's defaults, e.g. --frontend-set n_bands=64; repeatable")
    s.add_argument("--vocabulary", choices=("digits", "gsc35"), default="digits",
                   help="digits (20 classes, EN+DE) or gsc35 (the 35 Speech Commands keywords)")
    s.add_argument("--speakers", type=int, default=None, help="number of speakers (overrides --size)")
    s.add_argument("--repetitions", type=int, default=None, help="utterances per speaker and word (overrides --size)")
    s.add_argument("--conditions", default=None,
                   help="--recipe robust: comma-separated evaluation conditions of the test splits, "
                        "'<noise>@<snr_db>' or 'reverb' (default: hum, modulated, babble at 20/10/0 dB and reverb; "
                        "'none' for none)")
    s.add_argument("--splits", default=None,
                   help="comma-separated splits to render (train, valid, test, test_family; default all): the "
                        "speakers and every draw are those of the whole dataset, so e.g. '--splits test_family "
                        "--conditions gain@-6' adds conditions to an existing dataset in another folder")
    s.add_argument("--family-speakers", type=int, default=None,
                   help="speakers of the held-out voice families (--recipe robust; default 18)")
    s.add_argument("--force", action="store_true", help="overwrite an existing dataset in --out")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    g = sub.add_parser("gsc", help="Google Speech Commands folder -> SHD-format files (train/valid/test)")
    g.add_argument("root", help="folder with one sub-folder of .wav files per word and the split lists")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--words", default=None, help="comma-separated words to keep (default: every class folder)")
    g.add_argument("--max-per-class", type=int, default=0, help="keep at most N files per class and split (0 = all)")
    g.add_argument("--force", action="store_true", help="overwrite existing files in --out")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    i = sub.add_parser("info", help="describe an SHD-format HDF5 file")
    i.add_argument("file", help="SHD-format .h5 file")

    sp = sub.add_parser("speech", help="a long WAV of synthetic spoken digits with pauses and background noise, "
                                       "and the true word onsets (FILE.onsets.csv), to try axon stream on")
    sp.add_argument("--out", required=True, help="WAV file to write")
    sp.add_argument("--minutes", type=float, default=1.0, help="length in minutes (default 1)")
    sp.add_argument("--seed", type=int, default=0, help="seed of the voices, words, pauses and noise (default 0)")
    sp.add_argument("--voices", type=int, default=4, help="number of espeak-ng voices (default 4)")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _check_out(out, force: bool, names) -> None:
    from pathlib import Path

    existing = [n for n in names if (Path(out) / n).exists()]
    if existing and not force:
        raise ValueError(f"--out {out}: {', '.join(existing)} already exist(s); pass --force to overwrite")


def _settings(flag: str, cls, defaults: dict, items: list[str]):
    """``FLAG KEY=VALUE`` items (VALUE in TOML syntax) over ``defaults``, made into ``cls``."""
    import tomllib

    d = dict(defaults)
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{flag} {item!r} must look like KEY=VALUE")
        if key not in d:
            raise ValueError(f"{flag}: unknown setting {key!r} (known: {', '.join(d)})")
        try:
            d[key] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raise ValueError(f"{flag} {item!r}: the value is not TOML (e.g. 0.5, [-5, 25], [\"white\"])") from None
    try:
        return cls.from_dict(d)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{flag}: {e}") from None


def _augment_config(items: list[str]):
    """``--augment KEY=VALUE`` items over the :class:`AugmentConfig` defaults."""
    from training.data.augment import AugmentConfig

    return _settings("--augment", AugmentConfig, AugmentConfig().to_dict(), items)


def _synth(args) -> int:
    from sim.audio.frontend import FrontEndConfig
    from training.data.synth import SYNTH_SIZES, SynthConfig, dataset_names, file_name, robust_recipe, \
        selected_splits, write_synth

    if args.size not in SYNTH_SIZES:
        raise ValueError(f"--size must be one of {list(SYNTH_SIZES)}, got {args.size!r}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed!r}")
    if not 1 <= args.workers <= 64:
        raise ValueError(f"--workers must be in 1..64, got {args.workers!r}")
    over = dict(seed=args.seed, noise_snr_db=args.noise_snr_db, vocabulary=args.vocabulary)
    for flag, key in (("speakers", "n_speakers"), ("repetitions", "repetitions"),
                      ("family_speakers", "n_family_speakers")):
        v = getattr(args, flag)
        if v is not None:
            if v < (0 if flag == "family_speakers" else 1):
                raise ValueError(f"--{flag.replace('_', '-')} must be >= {0 if flag == 'family_speakers' else 1}, got {v!r}")
            over[key] = v
    if args.conditions is not None:
        if args.recipe != "robust":
            raise ValueError("--conditions goes with --recipe robust")
        over["eval_conditions"] = () if args.conditions.strip() == "none" else \
            tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    if args.augment:
        if args.recipe != "robust" or args.no_augment:
            raise ValueError("--augment goes with --recipe robust (and not with --no-augment)")
        over["augment"] = _augment_config(args.augment)
    if args.clean_twins:
        if args.recipe != "robust" or args.no_augment:
            raise ValueError("--clean-twins goes with --recipe robust (and not with --no-augment)")
        over["clean_twins"] = True
    encoder = args.frontend or ("robust" if args.recipe == "robust" else "delta")
    frontend = FrontEndConfig.robust() if encoder == "robust" else FrontEndConfig()
    if args.frontend_set:
        frontend = _settings("--frontend-set", FrontEndConfig, frontend.to_dict(), args.frontend_set)
    if args.recipe == "robust":
        if args.noise_snr_db is not None:
            raise ValueError("--noise-snr-db is for --recipe plain (the robust recipe augments with noise itself)")
        cfg = robust_recipe(args.size, frontend=frontend, augmented=not args.no_augment, **over)
    else:
        if args.no_augment or args.family_speakers is not None:
            raise ValueError("--no-augment and --family-speakers go with --recipe robust")
        cfg = SynthConfig.preset(args.size, frontend=frontend, **over)
    splits = None
    if args.splits is not None:
        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
        try:
            splits = list(selected_splits(cfg, splits))
        except ValueError as e:
            raise ValueError(f"--splits: {e}") from None
    _check_out(args.out, args.force, [file_name(n) for n in dataset_names(cfg, splits)] + ["dataset.json"])
    info = write_synth(args.out, cfg, workers=args.workers, progress=not args.quiet, splits=splits)
    sp = info["splits"]
    print(f"{info['n_utterances']} utterances ({args.size}, seed {args.seed}) in {info['elapsed_s']:.1f} s -> "
          f"{args.out}/synth_{{{','.join(k for k in sp if '/' not in k)}}}.h5: "
          + ", ".join(f"{k} {v['n_utterances']} ({_plural(v['n_speakers'], 'speaker')})"
                      for k, v in sp.items() if "/" not in k)
          + (f"; {len(cfg.eval_conditions)} evaluation conditions of each test split"
             if cfg.eval_conditions and any(k.startswith("test") for k in sp) else "")
          + f"; {info['n_units']} input channels")
    return 0


def _gsc(args) -> int:
    from training.data.gsc import write_gsc

    if args.max_per_class < 0:
        raise ValueError(f"--max-per-class must be >= 0, got {args.max_per_class!r}")
    words = None
    if args.words is not None:
        words = [w.strip() for w in args.words.split(",") if w.strip()]
        if not words:
            raise ValueError(f"--words must name at least one word, got {args.words!r}")
    _check_out(args.out, args.force, ["gsc_train.h5", "gsc_valid.h5", "gsc_test.h5"])
    info = write_gsc(args.root, args.out, words=words, max_per_class=args.max_per_class,
                     progress=not args.quiet)
    print(f"{sum(v['n_utterances'] for v in info['splits'].values())} recordings, {len(info['class_names'])} "
          f"classes -> {args.out}/gsc_{{train,valid,test}}.h5: "
          + ", ".join(f"{k} {v['n_utterances']}" for k, v in info["splits"].items()))
    return 0


def _info(args) -> int:
    import numpy as np

    from training.data.shd import load_shd

    ds = load_shd(args.file)
    n_ev = ds.n_events()
    dur = ds.durations_s()
    print(f"{args.file}: {len(ds)} samples, {ds.n_units} channels, {len(ds.class_names)} classes, "
          f"{_plural(len(np.unique(ds.speakers)), 'speaker')}")
    if len(ds):
        print(f"  events per sample: mean {n_ev.mean():.0f}, min {n_ev.min()}, max {n_ev.max()}")
        print(f"  last spike: mean {dur.mean():.3f} s, max {dur.max():.3f} s")
        counts = np.bincount(ds.labels, minlength=len(ds.class_names))
        print("  classes: " + ", ".join(f"{c} {k}" for c, k in zip(ds.class_names, counts)))
    return 0


def _speech(args) -> int:
    import math
    from pathlib import Path

    from training.data.speech import write_speech_stream

    if not (math.isfinite(args.minutes) and 0 < args.minutes <= 24 * 60):
        raise ValueError(f"--minutes must be in (0, 1440], got {args.minutes:g}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    out = Path(args.out)
    if out.suffix.lower() != ".wav" or out.is_dir():
        raise ValueError(f"--out {out}: name a .wav file to write")
    wav, onsets = write_speech_stream(out, args.minutes, seed=args.seed, n_voices=args.voices, progress=False)
    print(f"{args.minutes:g} min of synthetic speech ({_plural(args.voices, 'voice')}, seed {args.seed}) -> {wav}; "
          f"true onsets in {onsets}")
    return 0


def run(args) -> int:
    cmd = getattr(args, "data_command", None)
    if cmd == "synth":
        return _synth(args)
    if cmd == "gsc":
        return _gsc(args)
    if cmd == "info":
        return _info(args)
    if cmd == "speech":
        return _speech(args)
    raise ValueError("choose what to make: synth, gsc, info or speech (see axon data --help)")
