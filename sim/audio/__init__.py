"""axon's audio room: sound in, events and detections out.

``frontend`` turns sound into input events; the streaming pipeline (resampling, audio
source, detector, stream runner) and ``classify_audio`` run those events through a
network on the exact engine. Never imports torch.
"""
