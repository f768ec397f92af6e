import os

# Tiny tensors: one intra-op thread is faster than two and keeps parallel test processes fair.
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the layering tests run without torch too
    pass
