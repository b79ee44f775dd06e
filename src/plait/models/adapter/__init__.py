"""The adapter family: LaVIN's Mixture-of-Modality Adaptation (routed RepAdapters in a frozen LM and vision encoder)."""
