"""GLUE: the nine tasks' recipes, fine-tuning runs from a pretrained model, and the max-over-N table."""
