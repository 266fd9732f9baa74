"""Start-up of a command: seconds since the process started, and whether the compiled
(numba) code of the engines came from the on-disk cache or was compiled in this process."""
from __future__ import annotations

import os
import time

__all__ = ["seconds_since_process_start", "compiled_cache_stats", "ENGINE_PACKAGES"]

#: Packages whose loaded modules are searched for compiled functions.
ENGINE_PACKAGES = ("sim", "bridge", "training")

_IMPORTED_AT = time.perf_counter()


def seconds_since_process_start() -> float:
    """Wall seconds since this process started (from /proc; falls back to the time this
    module was imported)."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])   # field 22 of stat(5): starttime, in clock ticks since boot
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED_AT


def compiled_cache_stats(packages=ENGINE_PACKAGES) -> dict:
    """Numba dispatchers of every loaded module of ``packages`` that ran in this process: how
    many signatures were loaded from the on-disk cache (``cache_hits``) and how many were
    compiled (``cache_misses``), and which functions compiled. (Helpers called only from
    other compiled functions are compiled into their callers and not counted.)"""
    import sys

    hits = misses = used = 0
    compiled = []
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split(".")[0] not in packages:
            continue
        for fname, obj in list(vars(mod).items()):
            stats = getattr(obj, "stats", None)
            if stats is None or not hasattr(obj, "signatures") or not hasattr(stats, "cache_hits"):
                continue
            if getattr(obj, "__module__", name) != name:   # imported from elsewhere: counted there
                continue
            h = sum(stats.cache_hits.values())
            m = sum(stats.cache_misses.values())
            if h or m:
                used += 1
            hits += h
            misses += m
            if m:
                compiled.append(f"{name}.{fname}")
    return {"compiled_functions_used": used, "cache_hits": hits, "cache_misses": misses,
            "compiled_here": sorted(compiled)}
