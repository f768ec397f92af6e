import os
import tempfile

import pytest

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


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance (2 CPUs) whose actors import this checkout; the test is skipped, saying why,
    where Ray is not installed or cannot start here."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'zerograds[ray]' to run the Ray tests")
    from optimizer_server.farm import NAMESPACE

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    try:
        ray.init(
            num_cpus=2, namespace=NAMESPACE, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env}
        )
    except Exception as exc:  # Ray installed but unable to start here (no shared memory, ports, cgroups, ...)
        pytest.skip(f"Ray is installed but a local Ray instance could not start here: {exc}")
    yield ray
    ray.shutdown()
