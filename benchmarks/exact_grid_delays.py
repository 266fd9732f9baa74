"""The exact engine on a trained network whose delays are snapped to the training grid.

Splits the difference between the grid engine and the exact engine on a trained network
in two: the exact engine with every delay set to ``delay_steps * dt_s`` (inputs are still
the data's own spike times) differs from the grid engine only by running in continuous
time (arrivals not summed per step, several spikes per step possible, drive crossings
between steps, and lateral connections one spike at a time); the remaining difference to
the exact engine on the continuous learned delays is the delays' rounding.

Run: ``PYTHONPATH=. python benchmarks/exact_grid_delays.py MODEL.h5 DATA.h5 --out DIR``;
writes ``DIR/exact_grid_delays.json``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from bridge.runfiles import write_json


def snap_delays(network):
    """A copy of ``network`` with ``delay_s = delay_steps * dt_s`` on every projection."""
    from sim import Conv1D, Network, Projection

    projs = []
    for p in network.projections:
        if p.delay_steps is None:
            raise ValueError(f"projection {p.pre}->{p.post} records no delay_steps")
        if p.conv is not None:
            c = p.conv
            c2 = Conv1D(c.in_positions, c.in_channels, c.kernel, c.delay_steps * p.dt_s, stride=c.stride,
                        dilation=c.dilation, delay_steps=c.delay_steps, in_layout=c.in_layout)
            projs.append(Projection.conv1d(p.pre, p.post, c2, dt_s=p.dt_s))
        else:
            projs.append(Projection.sparse(p.pre, p.post, p.pre_idx, p.post_idx, p.weight, p.delay_steps * p.dt_s,
                                           delay_steps=p.delay_steps, dt_s=p.dt_s))
    kw = {"task": network.task} if hasattr(network, "task") else {}
    return Network(network.n_inputs, network.layers, projs, network.laterals, network.readout, network.metadata, **kw)


def main(argv=None):
    from bridge import evaluate as E
    from sim.model.io import load_network
    from training.data.shd import load_shd

    ap = argparse.ArgumentParser(description="exact engine with delays snapped to the training grid")
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-samples", type=int, default=None)
    args = ap.parse_args(argv)
    net = snap_delays(load_network(args.model))
    proto = E.ReadoutProtocol.from_network(net, args.model)
    ds = load_shd(args.data, n_units=net.n_inputs)
    r = E.evaluate_exact(net, ds, proto, max_samples=args.max_samples, progress=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "exact_grid_delays.json",
               {"model": args.model, "data": args.data, "engine": "exact, delays snapped to delay_steps * dt_s", **r})
    print(f"{args.model}: accuracy {100 * r['accuracy']:.2f} %, rates {r['layer_rate_hz']}, wall {r['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
