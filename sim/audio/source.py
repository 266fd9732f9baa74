"""Sound files read block by block, mixed down to mono, with truncation detected.

libsndfile (through ``soundfile``) reads WAV, FLAC, OGG and more; it silently shortens a
WAV whose ``data`` chunk is cut off, so a plain RIFF WAV's header is read as well and a
file that ends early raises :class:`AudioReadError` after delivering what it holds.
Never imports torch.
"""
from __future__ import annotations

import os
import struct

import numpy as np

from sim.errors import AudioError

__all__ = ["AudioReadError", "AudioSource"]


class AudioReadError(AudioError):
    """The audio file could not be read to its end (truncated or corrupt)."""


def _wav_declared_frames(path) -> int | None:
    """Frames the RIFF/WAVE header's ``data`` chunk declares, or None if not a plain RIFF
    WAV (libsndfile silently shortens a truncated WAV, so we compare with this)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                ch = f.read(8)
                if len(ch) < 8:
                    return None
                cid, size = ch[:4], struct.unpack("<I", ch[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size)
                    if len(fmt) < 14:
                        return None
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                    if size % 2:
                        f.read(1)
                elif cid == b"data":
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None  # streaming placeholder size: nothing to compare with
                    return size // block_align
                else:
                    f.seek(size + (size % 2), 1)
    except OSError:
        return None


class AudioSource:
    """A sound file read block by block (soundfile / libsndfile: WAV, FLAC, OGG, ...).

    Multichannel audio is mixed down to mono by averaging the channels
    (``mixed_down`` says whether that happened). Samples are float64, full scale 1.0.
    Raises :class:`AudioReadError` (a ``ValueError``) from :meth:`blocks` when the file
    ends before its header says or the decoder fails; blocks read before are delivered.
    """

    def __init__(self, path):
        import soundfile as sf

        self.path = str(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"{self.path}: no such audio file")
        try:
            self._f = sf.SoundFile(self.path)
        except Exception as e:  # libsndfile: unknown format, broken header
            raise AudioError(f"{self.path}: not a readable audio file ({e})") from None
        self.sample_rate_hz = float(self._f.samplerate)
        self.channels = int(self._f.channels)
        self.format = f"{self._f.format}/{self._f.subtype}"
        self.declared_frames = int(self._f.frames)
        wav = _wav_declared_frames(self.path) if self._f.format == "WAV" else None
        if wav is not None and wav > self.declared_frames:
            self.declared_frames = wav
        self.frames_read = 0

    @property
    def mixed_down(self) -> bool:
        return self.channels > 1

    @property
    def duration_s(self) -> float:
        return self.declared_frames / self.sample_rate_hz

    def describe(self) -> dict:
        return {"path": self.path, "format": self.format, "sample_rate_hz": self.sample_rate_hz,
                "channels": self.channels, "declared_frames": self.declared_frames,
                "declared_duration_s": self.duration_s,
                "mixdown": (f"{self.channels} channels mixed down to mono by averaging" if self.mixed_down
                            else "mono")}

    def blocks(self, block_frames: int):
        """Yield mono float64 blocks of ``block_frames`` samples (the last may be shorter)."""
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames!r}")
        while True:
            try:
                b = self._f.read(block_frames, dtype="float64", always_2d=True)
            except Exception as e:
                raise AudioReadError(
                    f"{self.path}: decoding failed after {self.frames_read} of {self.declared_frames} frames "
                    f"({self.frames_read / self.sample_rate_hz:.3f} s): {e}; the file is corrupt or truncated") from None
            if b.shape[0] == 0:
                break
            self.frames_read += b.shape[0]
            x = b[:, 0].copy() if b.shape[1] == 1 else b.mean(axis=1)
            if not np.all(np.isfinite(x)):
                raise AudioReadError(f"{self.path}: non-finite samples near frame {self.frames_read}")
            yield x
        if self.frames_read < self.declared_frames:
            raise AudioReadError(
                f"{self.path}: file ends after {self.frames_read} of the {self.declared_frames} frames its header "
                f"declares ({self.frames_read / self.sample_rate_hz:.3f} of {self.duration_s:.3f} s); "
                "the file is truncated")

    def close(self):
        self._f.close()
