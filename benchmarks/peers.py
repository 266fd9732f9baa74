"""axon's engines next to Brian2 and NEST on the reference network: the grid-aligned
``full`` and ``nest`` variants of ``axon bench`` (:mod:`bridge.bench`), kept under this
name for the commands the README and older notes quote.

    python -m benchmarks.peers --duration 5 [--out DIR] [any other `axon bench` option]

Every engine runs the very same arrays, each in its own subprocess, one thread; the
identities docs/semantics.md promises are checked on the timed runs' spikes. Without ``--out``
the files go to a temporary folder that is removed afterwards.
"""
from __future__ import annotations

import sys
import tempfile


def main(argv=None) -> int:
    from bridge.cli import main as axon

    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--variants" or a.startswith("--variants=") for a in argv):
        argv = ["--variants", "full,nest", *argv]
    if any(a == "--out" or a.startswith("--out=") for a in argv):
        return axon(["bench", *argv])
    with tempfile.TemporaryDirectory(prefix="axon_peers_") as tmp:
        return axon(["bench", "--out", tmp, *argv])


if __name__ == "__main__":
    raise SystemExit(main())
