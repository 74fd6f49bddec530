"""The shared diffusion backbone of every built-in method.

Light modules (``config``, ``chunks``, ``normalizer``) import only numpy; the torch-heavy
parts (``nets``, ``diffusion``, ``policy``, ``pretrain``) are imported where they are used, so
``bench methods list`` does not pay for ``import torch``.
"""
