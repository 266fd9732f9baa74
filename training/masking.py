"""Input masking during training (SpecAugment-like, on binned input events).

Noise does not add events to the robust front end's output so much as remove them: where
a noise is as loud as the speech in a band, that band's level no longer rises above the
tracked floor and its events vanish; a fluctuating noise does the same for a few tens of
milliseconds across many bands. Masking whole frequency bands and stretches of time of
the training inputs, freshly drawn in every batch, teaches the network not to rely on any
one band or moment. Masks are drawn from the training loop's ``torch.Generator``, so a run
is reproducible from its seed and resumes identically.

``band_of_channel`` maps input channels to frequency bands: the audio front end's layout
(``sim.audio.frontend``: UP events of band ``b`` on channel ``b``, DOWN on ``n_bands + b``, so a
band mask removes both), or one band per channel for data without a front end.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["band_of_channel", "mask_inputs"]


def band_of_channel(n_inputs: int, frontend: dict | None) -> np.ndarray:
    """Band index of each input channel, ``(n_inputs,)`` int64.

    With a front-end config (``FrontEndConfig.to_dict()``) of ``2 * n_bands`` channels
    (encoders "delta" and "robust"), channel ``c`` belongs to band ``c % n_bands``; with
    ``n_bands`` channels (encoder "lif") or without a front end, each channel is a band.
    """
    n_bands = (frontend or {}).get("n_bands")
    if n_bands and n_inputs == 2 * int(n_bands):
        return np.arange(n_inputs, dtype=np.int64) % int(n_bands)
    return np.arange(n_inputs, dtype=np.int64)


def mask_inputs(x: torch.Tensor, gen: torch.Generator, band_of: np.ndarray, band_masks: int = 0,
                band_mask_width: int = 0, time_masks: int = 0, time_mask_steps: int = 0,
                input_drop: float = 0.0) -> torch.Tensor:
    """A masked copy of a batch of binned inputs ``x`` ``(batch, steps, channels)``.

    Per sample: ``band_masks`` times, a run of ``w`` adjacent bands (``w`` uniform in
    ``0..band_mask_width``, start uniform) is zeroed on all its channels; ``time_masks``
    times, a run of ``w`` steps (``w`` uniform in ``0..time_mask_steps``) is zeroed on all
    channels; then each remaining bin is zeroed with probability ``input_drop``. With
    nothing to do, ``x`` itself is returned and ``gen`` is not advanced.
    """
    if not (band_masks and band_mask_width) and not (time_masks and time_mask_steps) and not input_drop:
        return x
    b, steps, channels = x.shape
    band_of_t = torch.as_tensor(band_of, dtype=torch.long)
    n_bands = int(band_of_t.max()) + 1 if channels else 0
    keep = torch.ones(b, steps, channels, dtype=x.dtype)
    if band_masks and band_mask_width:
        w = torch.randint(0, band_mask_width + 1, (b, band_masks), generator=gen)
        start = (torch.rand(b, band_masks, generator=gen) * (n_bands - w + 1).clamp(min=1)).long()
        bands = torch.arange(n_bands)
        hit = ((bands[None, None, :] >= start[..., None]) & (bands[None, None, :] < (start + w)[..., None])).any(1)
        keep = keep * (~hit[:, band_of_t]).to(x.dtype)[:, None, :]
    if time_masks and time_mask_steps:
        w = torch.randint(0, time_mask_steps + 1, (b, time_masks), generator=gen)
        start = (torch.rand(b, time_masks, generator=gen) * (steps - w + 1).clamp(min=1)).long()
        t = torch.arange(steps)
        hit = ((t[None, None, :] >= start[..., None]) & (t[None, None, :] < (start + w)[..., None])).any(1)
        keep = keep * (~hit).to(x.dtype)[:, :, None]
    if input_drop:
        keep = keep * (torch.rand(b, steps, channels, generator=gen) >= input_drop).to(x.dtype)
    return x * keep
