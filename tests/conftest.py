import os
import tempfile

# Tiny tensors: one intra-op thread is faster than two and keeps parallel test processes fair.
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the layering tests run without torch too
    pass

# Loopback servers authenticate with this user's local keys (optimizer_server/wire/local_keys.py),
# made on first use. The tests make and use their own, never the ones in ~/.config; subprocesses
# (servers, workers, Blender) inherit the variable.
if "ZEROGRADS_LOCAL_KEYS" not in os.environ:
    os.environ["ZEROGRADS_LOCAL_KEYS"] = os.path.join(tempfile.mkdtemp(prefix="zerograds-test-keys-"), "local-keys")
