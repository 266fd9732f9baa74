"""axon's model room: what a network is and how it is stored.

``network`` (layers, projections, laterals, readout; validated on construction), ``task``
(how a trained network is used), ``events`` (the input stream), ``results`` (what an
engine returns), ``io`` (model and event files), ``examples`` (the reference network).
Imports nothing of the engines or the audio room, except ``task``, which reads a recorded
front end into :class:`sim.audio.frontend.FrontEndConfig` when it meets one.
"""
