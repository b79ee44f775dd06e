"""Test settings: never touch the network, keep generated data in a per-session cache."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PLAIT_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache", "plait-tests"))
