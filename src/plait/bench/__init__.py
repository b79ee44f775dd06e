"""Speed and memory measurement: a probe on training steps, a hand-written reference loop, FLOPs and MFU."""
