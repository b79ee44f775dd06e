"""Sparse training: a fixed share of chosen weights held at zero, statically or with RigL's drop-and-regrow.

No maintained package does RigL under transformers' Trainer: rigl-torch and fastsparse (both last released
2020-11) are unmaintained, and torch.ao.pruning has masks and sparsity schedulers but no regrowth; this
package is the small part none of them has (config.py, masks.py, rigl.py, callback.py).
"""
