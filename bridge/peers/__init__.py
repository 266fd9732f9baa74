"""The same network run in Brian2 and NEST, for cross-validation against axon's engines.

Each backend takes a :class:`sim.Network` and :class:`sim.Events`, builds the peer's
network from the very same arrays, runs it, and returns a :class:`PeerRun` whose spikes are
in axon's format (per layer, layer-local neuron indices, seconds on axon's time axis), so
``bridge.compare`` can put them next to a grid or exact engine run. The schedule,
delay-offset and time-shift rules that make the runs comparable live in
``bridge.conventions``; a network a peer cannot express raises ``ValueError`` naming the
layer or projection and the reason, before the peer is imported.
"""
from bridge.peers.common import PeerRun, PeerUnavailable

__all__ = ["PeerRun", "PeerUnavailable"]
