"""The text family: causal LM, masked LM and sequence classification on any transformers backbone."""
