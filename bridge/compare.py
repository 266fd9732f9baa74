"""Agreement between two runs of the same network: identity, spike counts, matched spike
pairs and their time differences, first divergence, rate correlation and van Rossum
distance, per layer and overall; plus the JSON / Markdown / PNG files that show them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["LayerComparison", "Comparison", "compare_runs", "van_rossum_distance", "match_spikes",
           "write_comparison"]

# Pairs further apart than this many tau are left out of the van Rossum sums: each such
# term is below exp(-40) ~ 4e-18, under float64 resolution of sums that contain 1s.
_VR_CUTOFF_TAU = 40.0


# ---------------------------------------------------------------------------------------
# Per-neuron kernels (sorted float64 spike times of one neuron in each run)
# ---------------------------------------------------------------------------------------


def match_spikes(ta: np.ndarray, tb: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Pair spikes of one neuron in two runs: indices ``(ia, ib)`` with ``|tb[ib] - ta[ia]| <= window_s``.

    ``ta``, ``tb``: sorted 1-D float64 times (s). Two-pointer sweep in time order: the
    earliest unpaired spike of either run is paired with the earliest of the other if they
    are within the window, else it is dropped (nothing later can pair with it any better).
    This gives a matching of maximum cardinality and never crosses pairs; among equally
    large matchings it is the earliest-first one, not necessarily the one with the
    smallest time differences (they coincide when a neuron's inter-spike intervals
    exceed twice the window, the usual case with a refractory period).
    """
    na, nb = ta.shape[0], tb.shape[0]
    if na == nb and (na == 0 or bool(np.all(np.abs(tb - ta) <= window_s))):
        idx = np.arange(na)  # the sweep pairs index with index in this case
        return idx, idx.copy()
    a, b = ta.tolist(), tb.tolist()
    ia, ib = [], []
    i = j = 0
    while i < na and j < nb:
        d = b[j] - a[i]
        if d < -window_s:
            j += 1
        elif d > window_s:
            i += 1
        else:
            ia.append(i)
            ib.append(j)
            i += 1
            j += 1
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)


def _kernel_sum(x: np.ndarray, y: np.ndarray, tau_s: float) -> float:
    """``sum_i sum_j exp(-|x_i - y_j| / tau)`` for sorted ``x``, ``y`` (pairs within the cutoff)."""
    if x.shape[0] == 0 or y.shape[0] == 0:
        return 0.0
    c = _VR_CUTOFF_TAU * tau_s
    lo = np.searchsorted(y, x - c, side="left")
    hi = np.searchsorted(y, x + c, side="right")
    n = hi - lo
    total = int(n.sum())
    if total == 0:
        return 0.0
    xi = np.repeat(np.arange(x.shape[0]), n)
    yj = np.repeat(lo, n) + (np.arange(total) - np.repeat(np.cumsum(n) - n, n))
    return float(np.exp(-np.abs(x[xi] - y[yj]) / tau_s).sum())


def van_rossum_distance(ta: np.ndarray, tb: np.ndarray, tau_s: float) -> float:
    """Van Rossum distance between two spike trains, in closed form (dimensionless).

    With the causal exponential kernel ``f(t) = sum_i exp(-(t - t_i)/tau) H(t - t_i)``
    and van Rossum's (2001) normalisation

    ``D^2 = (1/tau) * integral_{-inf}^{+inf} (f_a(t) - f_b(t))^2 dt``
    ``    = 1/2 * [sum_ij e^{-|a_i-a_j|/tau} + sum_ij e^{-|b_i-b_j|/tau} - 2 sum_ij e^{-|a_i-b_j|/tau}]``

    so one spike against none gives ``D = sqrt(1/2)``, ``n`` unmatched far-apart spikes
    give ``sqrt(n/2)``, and one spike each at ``t1``, ``t2`` gives
    ``D^2 = 1 - exp(-|t1 - t2|/tau)``. The integral runs over all time (tails after the
    end of the run included). Terms with ``|dt| > 40 tau`` (< 4e-18 each) are omitted.
    Computed as a difference of sums, so the absolute error of ``D^2`` is about
    ``1e-16 * (number of spikes)``.

    Parameters
    ----------
    ta, tb : sorted 1-D float64 arrays, spike times (s) of one neuron in each run.
    tau_s : kernel time constant (s), > 0.
    """
    ta = np.asarray(ta, dtype=np.float64)
    tb = np.asarray(tb, dtype=np.float64)
    if ta.shape == tb.shape and np.array_equal(ta, tb):
        return 0.0
    d2 = 0.5 * (_kernel_sum(ta, ta, tau_s) + _kernel_sum(tb, tb, tau_s)) - _kernel_sum(ta, tb, tau_s)
    return math.sqrt(max(d2, 0.0))


def _first_divergence(ta: np.ndarray, tb: np.ndarray, tol_s: float) -> float:
    """Earliest time at which the two sorted lists differ beyond ``tol_s`` (inf if never).

    Index-aligned: the first ``k`` with ``|ta[k] - tb[k]| > tol_s`` gives
    ``min(ta[k], tb[k])``; if one list is a prefix of the other, the first extra spike.
    """
    n = min(ta.shape[0], tb.shape[0])
    bad = np.flatnonzero(np.abs(ta[:n] - tb[:n]) > tol_s)
    if bad.size:
        k = int(bad[0])
        return float(min(ta[k], tb[k]))
    if ta.shape[0] > n:
        return float(ta[n])
    if tb.shape[0] > n:
        return float(tb[n])
    return math.inf


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass
class LayerComparison:
    """Agreement of one layer (or of all layers together, ``name == "all layers"``).

    Arrays are per neuron (length ``size``) except ``dt_s`` (one entry per matched pair,
    ``t_b - t_a`` in s, grouped by neuron). ``neurons_count_differ`` counts neurons whose
    spike counts differ; ``neurons_differing`` those whose spike trains are not identical
    within the time tolerance. ``rate_corr`` is Pearson's r of the firing rates across
    neurons (nan when undefined, with the reason in ``rate_corr_note``). ``van_rossum``
    is :func:`van_rossum_distance` per neuron.
    """

    name: str
    size: int
    identical: bool
    spikes_a: int
    spikes_b: int
    count_diff: np.ndarray
    max_abs_count_diff: int
    neurons_count_differ: int
    neurons_differing: int
    matched: np.ndarray
    n_matched: int
    unmatched_a: int
    unmatched_b: int
    dt_s: np.ndarray
    mean_dt_s: float
    max_abs_dt_s: float
    first_divergence_s: float | None
    first_divergence_layer: str | None
    first_divergence_neuron: int | None
    rate_corr: float
    rate_corr_note: str
    van_rossum: np.ndarray
    mean_van_rossum: float

    def to_dict(self, include_arrays: bool = True) -> dict:
        """JSON-ready: Python scalars and lists only; nan becomes ``None``."""
        out = {
            "name": self.name, "size": int(self.size), "identical": bool(self.identical),
            "spikes_a": int(self.spikes_a), "spikes_b": int(self.spikes_b),
            "max_abs_count_diff": int(self.max_abs_count_diff),
            "neurons_count_differ": int(self.neurons_count_differ),
            "neurons_differing": int(self.neurons_differing),
            "n_matched": int(self.n_matched), "unmatched_a": int(self.unmatched_a),
            "unmatched_b": int(self.unmatched_b),
            "mean_dt_s": _jfloat(self.mean_dt_s), "max_abs_dt_s": _jfloat(self.max_abs_dt_s),
            "first_divergence_s": _jfloat(self.first_divergence_s),
            "first_divergence_layer": self.first_divergence_layer,
            "first_divergence_neuron": None if self.first_divergence_neuron is None
            else int(self.first_divergence_neuron),
            "rate_corr": _jfloat(self.rate_corr), "rate_corr_note": self.rate_corr_note,
            "mean_van_rossum": _jfloat(self.mean_van_rossum),
        }
        if include_arrays:
            out["count_diff"] = [int(v) for v in self.count_diff]
            out["matched"] = [int(v) for v in self.matched]
            out["dt_s"] = [float(v) for v in self.dt_s]
            out["van_rossum"] = [_jfloat(v) for v in self.van_rossum]
        return out


@dataclass
class Comparison:
    """Agreement of run ``a`` (``labels[0]``) and run ``b`` (``labels[1]``): per layer, in the
    input's layer order, and ``overall`` (all neurons of all layers together)."""

    labels: tuple[str, str]
    duration_s: float
    match_window_s: float
    time_tol_s: float
    van_rossum_tau_s: float
    layers: dict[str, LayerComparison]
    overall: LayerComparison

    @property
    def identical(self) -> bool:
        return self.overall.identical

    def to_dict(self) -> dict:
        """JSON-ready dict: parameters, ``overall`` (scalars) and ``layers`` (with per-neuron lists)."""
        return {
            "labels": list(self.labels),
            "duration_s": float(self.duration_s),
            "match_window_s": float(self.match_window_s),
            "time_tol_s": float(self.time_tol_s),
            "van_rossum_tau_s": float(self.van_rossum_tau_s),
            "van_rossum_normalisation": "D^2 = (1/tau) * integral (f_a - f_b)^2 dt, causal exp kernel; "
                                        "one unmatched spike gives sqrt(1/2)",
            "dt_sign": "t_b - t_a",
            "identical": bool(self.identical),
            "overall": self.overall.to_dict(include_arrays=False),
            "layers": {k: v.to_dict() for k, v in self.layers.items()},
        }

    def to_markdown(self) -> str:
        """A table, one row per layer and one for all layers together, plus notes."""
        la, lb = self.labels
        lines = [
            f"# Agreement: {la} vs {lb}", "",
            f"Duration {self.duration_s:g} s; identical within {_ms(self.time_tol_s)} ms: "
            f"**{'yes' if self.identical else 'no'}**. Spikes matched within {_ms(self.match_window_s)} ms; "
            f"dt = t({lb}) - t({la}); van Rossum tau {_ms(self.van_rossum_tau_s)} ms.", "",
            f"| layer | neurons | spikes {la} | spikes {lb} | identical | neurons differing (count / train) "
            f"| matched | unmatched {la} / {lb} | mean dt (ms) | max abs dt (ms) | first divergence (s) "
            f"| rate corr | mean van Rossum |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        notes = []
        for row in [*self.layers.values(), self.overall]:
            name = f"**{row.name}**" if row is self.overall else row.name
            if row.first_divergence_s is None:
                fd = "-"
            else:
                where = f"{row.first_divergence_layer}[{row.first_divergence_neuron}]"
                fd = f"{row.first_divergence_s:.6f} ({where})"
            lines.append(
                f"| {name} | {row.size} | {row.spikes_a} | {row.spikes_b} | {'yes' if row.identical else 'no'} "
                f"| {row.neurons_count_differ} / {row.neurons_differing} | {row.n_matched} "
                f"| {row.unmatched_a} / {row.unmatched_b} | {_fmt(row.mean_dt_s * 1e3, '.4g')} "
                f"| {_fmt(row.max_abs_dt_s * 1e3, '.4g')} | {fd} | {_fmt(row.rate_corr, '.4f')} "
                f"| {_fmt(row.mean_van_rossum, '.4g')} |")
            if row.rate_corr_note:
                notes.append(f"- rate corr, {row.name}: {row.rate_corr_note}")
        lines += ["", "Van Rossum distance per neuron: D^2 = (1/tau) * integral (f_a - f_b)^2 dt with a "
                      "causal exponential kernel (one unmatched spike: 0.707).", *notes, ""]
        return "\n".join(lines)


def _jfloat(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _fmt(x: float, spec: str) -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def _ms(x_s: float) -> str:
    return format(x_s * 1e3, "g")


# ---------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------


@dataclass
class _PerNeuron:
    """Per-neuron raw results of one layer, before summarising."""

    layer: str
    counts_a: np.ndarray
    counts_b: np.ndarray
    matched: np.ndarray
    dt_s: np.ndarray
    first_div_s: np.ndarray  # inf where the trains never diverge
    van_rossum: np.ndarray


def _spikes_of(run, label: str) -> tuple[dict, float | None]:
    if hasattr(run, "spikes") and hasattr(run, "duration_s"):
        return run.spikes, float(run.duration_s)
    if isinstance(run, dict):
        return run, None
    raise ValueError(f"run {label!r} must be a dict {{layer: SpikeTrains}} or a SimResult, "
                     f"got {type(run).__name__}")


def _sorted_by_neuron(tr, layer: str, label: str) -> tuple[list[np.ndarray], int]:
    """Per-neuron sorted spike times of one layer; validates indices and times."""
    size = int(tr.size)
    t = np.asarray(tr.times_s, dtype=np.float64)
    n = np.asarray(tr.neurons)
    if t.ndim != 1 or n.shape != t.shape:
        raise ValueError(f"layer {layer!r} of run {label!r}: times_s and neurons must be 1-D of equal length, "
                         f"got shapes {t.shape} and {n.shape}")
    if n.size and not np.issubdtype(n.dtype, np.integer):
        raise ValueError(f"layer {layer!r} of run {label!r}: neurons must be integers, got {n.dtype}")
    n = n.astype(np.int64)
    if n.size and (n.min() < 0 or n.max() >= size):
        bad = int(n[(n < 0) | (n >= size)][0])
        raise ValueError(f"layer {layer!r} of run {label!r}: neuron index {bad} outside [0, {size})")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"layer {layer!r} of run {label!r}: times_s must be finite")
    order = np.lexsort((t, n))
    counts = np.bincount(n, minlength=size)
    return np.split(t[order], np.cumsum(counts)[:-1]) if size else [], size


def _compare_layer(name: str, tra, trb, labels, window_s, tol_s, tau_s) -> _PerNeuron:
    per_a, size_a = _sorted_by_neuron(tra, name, labels[0])
    per_b, size_b = _sorted_by_neuron(trb, name, labels[1])
    if size_a != size_b:
        raise ValueError(f"layer {name!r} has {size_a} neurons in run {labels[0]!r} "
                         f"and {size_b} in run {labels[1]!r}")
    counts_a = np.array([x.shape[0] for x in per_a], dtype=np.int64)
    counts_b = np.array([x.shape[0] for x in per_b], dtype=np.int64)
    matched = np.zeros(size_a, dtype=np.int64)
    first = np.full(size_a, math.inf)
    vr = np.zeros(size_a)
    dts = []
    for k, (ta, tb) in enumerate(zip(per_a, per_b)):
        ia, ib = match_spikes(ta, tb, window_s)
        matched[k] = ia.shape[0]
        dts.append(tb[ib] - ta[ia])
        first[k] = _first_divergence(ta, tb, tol_s)
        vr[k] = van_rossum_distance(ta, tb, tau_s)
    dt = np.concatenate(dts) if dts else np.zeros(0)
    return _PerNeuron(name, counts_a, counts_b, matched, dt, first, vr)


def _rate_corr(ra: np.ndarray, rb: np.ndarray, labels) -> tuple[float, str]:
    """Pearson's r across neurons; defined cases for constant rate vectors."""
    if ra.shape[0] == 0:
        return math.nan, "no neurons"
    const_a = bool(np.ptp(ra) == 0)
    const_b = bool(np.ptp(rb) == 0)
    if const_a and const_b:
        if np.array_equal(ra, rb):
            return 1.0, ""  # equal constant vectors: perfect agreement, r set to 1 by convention
        return math.nan, f"rates constant in both runs but different ({ra[0]:g} vs {rb[0]:g} Hz): r undefined"
    if const_a or const_b:
        which = labels[0] if const_a else labels[1]
        return math.nan, f"rates of {which} constant across neurons: r undefined"
    return float(np.corrcoef(ra, rb)[0, 1]), ""


def _summarise(name: str, parts: list[_PerNeuron], duration_s: float, labels) -> LayerComparison:
    ca = np.concatenate([p.counts_a for p in parts]) if parts else np.zeros(0, np.int64)
    cb = np.concatenate([p.counts_b for p in parts]) if parts else np.zeros(0, np.int64)
    matched = np.concatenate([p.matched for p in parts]) if parts else np.zeros(0, np.int64)
    dt = np.concatenate([p.dt_s for p in parts]) if parts else np.zeros(0)
    first = np.concatenate([p.first_div_s for p in parts]) if parts else np.zeros(0)
    vr = np.concatenate([p.van_rossum for p in parts]) if parts else np.zeros(0)
    diff = cb - ca
    differing = np.isfinite(first)
    if differing.any():
        g = int(np.argmin(first))  # first neuron (in layer order) among those at the earliest time
        offsets = np.cumsum([0] + [p.counts_a.shape[0] for p in parts])
        li = int(np.searchsorted(offsets, g, side="right") - 1)
        fd, fd_layer, fd_neuron = float(first[g]), parts[li].layer, g - int(offsets[li])
    else:
        fd, fd_layer, fd_neuron = None, None, None
    corr, note = _rate_corr(ca / duration_s, cb / duration_s, labels)
    n_matched = int(matched.sum())
    return LayerComparison(
        name=name, size=int(ca.shape[0]), identical=not bool(differing.any()),
        spikes_a=int(ca.sum()), spikes_b=int(cb.sum()),
        count_diff=diff, max_abs_count_diff=int(np.abs(diff).max()) if diff.size else 0,
        neurons_count_differ=int(np.count_nonzero(diff)), neurons_differing=int(differing.sum()),
        matched=matched, n_matched=n_matched,
        unmatched_a=int(ca.sum()) - n_matched, unmatched_b=int(cb.sum()) - n_matched,
        dt_s=dt, mean_dt_s=float(dt.mean()) if dt.size else math.nan,
        max_abs_dt_s=float(np.abs(dt).max()) if dt.size else math.nan,
        first_divergence_s=fd, first_divergence_layer=fd_layer, first_divergence_neuron=fd_neuron,
        rate_corr=corr, rate_corr_note=note,
        van_rossum=vr, mean_van_rossum=float(vr.mean()) if vr.size else math.nan,
    )


def compare_runs(a, b, *, duration_s: float | None = None, labels: tuple[str, str] = ("a", "b"),
                 match_window_s: float = 1e-3, time_tol_s: float = 0.0,
                 van_rossum_tau_s: float = 0.01) -> Comparison:
    """Compare two runs of the same network, layer by layer.

    Parameters
    ----------
    a, b : ``{layer_name: SpikeTrains}`` (``times_s`` float64 s, ``neurons`` int layer-local,
        ``size``) or :class:`sim.model.results.SimResult` (its ``spikes`` and ``duration_s``).
        Both must have the same layer names with the same sizes.
    duration_s : run length (s) used for firing rates; taken from the SimResults when not given.
    labels : names of the two runs, used in messages, tables and plots.
    match_window_s : spikes of the same neuron pair up when ``|t_b - t_a| <= match_window_s``
        (:func:`match_spikes`).
    time_tol_s : a neuron's trains are identical when they have the same number of spikes
        and, after sorting, every ``|t_b[k] - t_a[k]| <= time_tol_s`` (0: exact equality).
        The first divergence is the earliest time where that fails (the earlier of the two
        spike times, or the first extra spike); with tolerance 0 this is where the two
        ``(time, neuron)``-sorted event lists first differ.
    van_rossum_tau_s : kernel time constant of :func:`van_rossum_distance` (s).

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        A layer in one run only, a layer with different sizes, invalid spikes or parameters.
    """
    labels = tuple(labels)
    if len(labels) != 2 or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels must be two strings, got {labels!r}")
    sa, da = _spikes_of(a, labels[0])
    sb, db = _spikes_of(b, labels[1])
    if duration_s is None:
        known = [d for d in (da, db) if d is not None]
        if not known:
            raise ValueError("duration_s is required when the runs are given as dicts")
        if len(known) == 2 and da != db:
            raise ValueError(f"runs have different durations ({da!r} s, {db!r} s); pass duration_s")
        duration_s = known[0]
    for field, value, strict in (("duration_s", duration_s, True), ("match_window_s", match_window_s, False),
                                 ("time_tol_s", time_tol_s, False), ("van_rossum_tau_s", van_rossum_tau_s, True)):
        ok = isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and (
            value > 0 if strict else value >= 0)
        if not ok:
            raise ValueError(f"{field} must be a finite number {'>' if strict else '>='} 0, got {value!r}")
    for name in sa:
        if name not in sb:
            raise ValueError(f"layer {name!r} is in run {labels[0]!r} only")
    for name in sb:
        if name not in sa:
            raise ValueError(f"layer {name!r} is in run {labels[1]!r} only")

    parts = [_compare_layer(name, sa[name], sb[name], labels, float(match_window_s), float(time_tol_s),
                            float(van_rossum_tau_s)) for name in sa]
    layers = {p.layer: _summarise(p.layer, [p], float(duration_s), labels) for p in parts}
    return Comparison(labels=labels, duration_s=float(duration_s), match_window_s=float(match_window_s),
                      time_tol_s=float(time_tol_s), van_rossum_tau_s=float(van_rossum_tau_s),
                      layers=layers, overall=_summarise("all layers", parts, float(duration_s), labels))


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def _raster_window(comparison: Comparison, trains, target_spikes: int = 3000) -> tuple[float, float]:
    """A window of the run about ``target_spikes`` spikes wide (never under 20 ms), placed
    so that the first divergence, if any, is a quarter of the way in."""
    d = float(comparison.duration_s)
    n = sum(len(tr.times_s) for tr in trains)
    width = d if n <= target_spikes else max(min(d, 0.02), d * target_spikes / n)
    fd = comparison.overall.first_divergence_s
    start = 0.0 if fd is None or not np.isfinite(fd) else float(fd) - width / 4
    start = min(max(start, 0.0), max(d - width, 0.0))
    return start, start + width


def write_comparison(comparison: Comparison, out_dir, a, b, *, layers=None,
                     window_s: tuple[float, float] | None = None) -> list[Path]:
    """Write ``comparison.json``, ``comparison.md`` and three PNGs into ``out_dir``.

    ``compare_raster.png``: overlaid rasters of ``layers`` (default: the first two), run
    ``a`` as dots and ``b`` as crosses, over ``window_s`` (default: a window readable as a
    raster, about 3000 spikes of run ``a`` wide, starting just before the first divergence
    if there is one, else at 0);
    ``compare_counts.png``: spike count per neuron, ``a`` vs ``b``, with the diagonal;
    ``compare_dt_hist.png``: histogram of matched ``t_b - t_a``. ``a`` and ``b`` are the
    runs given to :func:`compare_runs`. Returns the paths written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bridge.runfiles import write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    la, lb = comparison.labels
    sa, _ = _spikes_of(a, la)
    sb, _ = _spikes_of(b, lb)
    names = list(comparison.layers)[:2] if layers is None else list(layers)
    for n in names:
        if n not in comparison.layers:
            raise ValueError(f"layer {n!r} is not in the comparison (layers: {list(comparison.layers)})")
    t0, t1 = window_s if window_s is not None else _raster_window(comparison, [sa[n] for n in names])
    paths = []

    p = out / "compare_raster.png"
    fig, axes = plt.subplots(max(len(names), 1), 1, figsize=(9, 1.4 + 2.0 * max(len(names), 1)),
                             sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        for tr, marker, color, lab in ((sa[name], ".", "tab:blue", la), (sb[name], "x", "tab:red", lb)):
            t = np.asarray(tr.times_s, dtype=np.float64)
            m = (t >= t0) & (t <= t1)
            ax.scatter(t[m], np.asarray(tr.neurons)[m], s=12 if marker == "x" else 22, marker=marker,
                       color=color, linewidths=0.7, label=lab)
        ax.set_ylabel(f"{name}\nneuron")
        ax.set_ylim(-0.5, comparison.layers[name].size - 0.5)
        ax.legend(loc="upper right", fontsize=7, markerscale=1.5)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 0].set_xlim(t0, t1)
    axes[0, 0].set_title(f"Spikes: {la} (dots) vs {lb} (crosses), {t0:.4g}-{t1:.4g} s")
    fig.tight_layout()
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(p)

    p = out / "compare_counts.png"
    fig, ax = plt.subplots(figsize=(5, 5))
    hi = 1.0
    for name, row in comparison.layers.items():
        ca = np.bincount(np.asarray(sa[name].neurons, dtype=np.int64), minlength=row.size)
        cb = ca + row.count_diff
        ax.scatter(ca, cb, s=8, alpha=0.7, label=name)
        if row.size:
            hi = max(hi, float(ca.max()), float(cb.max()))
    ax.plot([0, hi], [0, hi], color="k", linewidth=0.8, linestyle="--", label="equal")
    ax.set_xlabel(f"spikes per neuron, {la}")
    ax.set_ylabel(f"spikes per neuron, {lb}")
    ax.set_title("Spike count per neuron")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(p)

    p = out / "compare_dt_hist.png"
    fig, ax = plt.subplots(figsize=(6, 4))
    dt_ms = np.concatenate([row.dt_s for row in comparison.layers.values()] or [np.zeros(0)]) * 1e3
    if dt_ms.size:
        ax.hist(dt_ms, bins=min(60, max(10, int(np.sqrt(dt_ms.size)))), color="tab:gray")
    else:
        ax.text(0.5, 0.5, "no matched spike pairs", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(f"t({lb}) - t({la}) (ms)")
    ax.set_ylabel("matched spike pairs")
    ax.set_title(f"Time differences of matched spikes (window {_ms(comparison.match_window_s)} ms)")
    fig.tight_layout()
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(p)

    pj = out / "comparison.json"
    write_json(pj, comparison.to_dict())
    pm = out / "comparison.md"
    md = comparison.to_markdown() + "\n".join([
        "", "![raster](compare_raster.png)", "",
        f"*Overlaid rasters ({', '.join(names)}), {t0:g}-{t1:g} s: {la} as dots, {lb} as crosses.*", "",
        "![counts](compare_counts.png)", "",
        f"*Spike count per neuron, {la} (x) vs {lb} (y); points off the dashed diagonal differ.*", "",
        "![dt](compare_dt_hist.png)", "",
        f"*Histogram of t({lb}) - t({la}) over matched spike pairs (ms).*", ""])
    pm.write_text(md)
    return [pj, pm, *paths]
