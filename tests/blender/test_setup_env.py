"""The one-click optimizer environment and the server's start-up errors, with real processes:
a real virtual environment and pip, a real Python without torch (Debian's /usr/bin/python3)."""

import os
import subprocess
import sys

import pytest

from blender_addon import local_server, setup_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: numpy and pyzmq (make gui-deps), no torch
no_system_python = pytest.mark.skipif(not os.path.isfile(SYSTEM_PYTHON), reason=f"needs {SYSTEM_PYTHON}")


def test_requirements_are_the_servers_dependencies():
    """What the set-up installs is what pyproject.toml says the server needs (plots aside)."""
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    assert set(setup_env.REQUIREMENTS) == {d for d in deps if not d.startswith("matplotlib")}
    assert setup_env.check_code(["torch==2.13.0", "pyzmq>=25"]) == "import torch; import zmq; print('zerograds-env-ok')"


@pytest.mark.slow
def test_setup_builds_a_checked_environment_and_reports_progress(tmp_path):
    """A real venv from this Python and a real pip install (one small package, not torch)."""
    folder = str(tmp_path / "env")
    job = setup_env.SetupJob(folder, requirements=["cma>=3.3"]).start()
    fractions = set()
    while not job.wait(0.2):
        fractions.add(round(job.fraction, 2))
    assert job.error is None, job.error
    assert job.fraction == 1.0 and "ready" in job.text and len(fractions) >= 2
    python = setup_env.ready(folder, ["cma>=3.3"])
    assert python == setup_env.env_python(folder) and setup_env.ready(folder) is None  # not the server's set
    assert subprocess.run([python, "-c", "import cma"], timeout=60).returncode == 0


@pytest.mark.slow
def test_a_failed_setup_says_what_failed_and_is_not_ready(tmp_path):
    folder = str(tmp_path / "env")
    job = setup_env.SetupJob(folder, requirements=["zerograds-no-such-package-for-sure"]).start()
    job.wait(300)
    assert job.done and job.error is not None
    assert "installing the optimizer's packages failed" in job.error and job.log_path in job.error
    assert setup_env.ready(folder) is None


@no_system_python
def test_without_a_python_that_has_torch_the_setup_is_asked_for(tmp_path):
    """Nothing set up, no ZEROGRADS_PYTHON, python3 without torch: the add-on asks for the set-up
    (it never asks for an interpreter path)."""
    code = (
        "from blender_addon import local_server\n"
        "try:\n    local_server.server_python('')\n"
        "except local_server.ServerSetupNeeded as e:\n    print('SETUP:', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("ZEROGRADS_PYTHON", setup_env.ENV_VAR)}
    env.update(PYTHONPATH=ROOT, PATH=os.path.dirname(SYSTEM_PYTHON))
    out = subprocess.run([SYSTEM_PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "SETUP: the optimizer needs a Python with PyTorch" in out.stdout, out.stdout + out.stderr
    assert "Set Up Optimizer" in out.stdout or "Set Up" in out.stdout
    assert "Server Python" not in out.stdout  # no interpreter path to type


@no_system_python
def test_a_server_that_cannot_start_reports_its_own_error(tmp_path):
    server = local_server.LocalServer(SYSTEM_PYTHON, log_path=str(tmp_path / "server.log"))
    with pytest.raises(local_server.ServerStartError) as info:
        server.start(timeout_s=60)
    message = str(info.value)
    assert "exited with code 1" in message and "No module named 'torch'" in message, message
    assert "did not start within" not in message


def test_the_managed_environment_is_preferred_once_ready(tmp_path, monkeypatch):
    folder = tmp_path / "env"
    os.makedirs(folder / "bin")
    (folder / "bin" / "python").symlink_to(sys.executable)
    monkeypatch.delenv("ZEROGRADS_PYTHON", raising=False)
    monkeypatch.setenv(setup_env.ENV_VAR, str(folder))
    assert local_server.managed_python() is None  # no marker: a half-built folder is not used
    (folder / setup_env.MARKER).write_text('{"ok": true, "requirements": ["numpy"]}')
    assert local_server.managed_python() is None  # built for other requirements: set up again
    (folder / setup_env.MARKER).write_text('{"ok": true}')
    assert local_server.server_python("") == str(folder / "bin" / "python")
