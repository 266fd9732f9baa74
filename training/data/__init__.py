"""Datasets: spike trains in memory (:class:`SpikeDataset`), the SHD file format,
synthetic spoken digits (:mod:`training.data.synth`) and Google Speech Commands
folders (:mod:`training.data.gsc`). Nothing here imports torch.
"""
from training.data.shd import SHD_CLASS_NAMES, SHD_N_UNITS, SpikeDataset, load_shd, write_shd

__all__ = ["SpikeDataset", "load_shd", "write_shd", "SHD_N_UNITS", "SHD_CLASS_NAMES"]
