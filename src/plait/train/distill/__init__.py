"""Knowledge distillation: a frozen teacher's temperature-softened distributions mixed into the student's loss.

transformers has no distillation loss or trainer (TRL's GKDTrainer is for on-policy generation with causal
LMs only); this package is the small part the Trainer lacks (config.py, loss.py, teacher.py, hook.py).
"""
