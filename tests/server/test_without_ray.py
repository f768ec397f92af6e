"""The package without Ray (issue 17: Ray is an optional extra). Ray is blocked in a child Python
(``sys.modules["ray"] = None`` makes ``import ray`` fail as if it were not installed), so this runs, and
means the same, whether or not this machine has Ray."""

from __future__ import annotations

import subprocess
import sys

from server_kit import REPO

BLOCK_RAY = "import sys; sys.modules['ray'] = None\n"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_RAY + code], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_every_module_of_the_package_imports_without_ray():
    code = (
        "import importlib, pkgutil, optimizer_server\n"
        "for m in pkgutil.walk_packages(optimizer_server.__path__, 'optimizer_server.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print('imported', len(sys.modules))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout


def test_the_workers_command_without_ray_says_how_to_install_it():
    code = (
        "from optimizer_server.__main__ import main\n"
        "sys.exit(main(['workers', '--ray', 'auto', '--count', '2', '--connect', 'tcp://127.0.0.1:9']))\n"
    )
    done = _python(code)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "workers on Ray need the `ray` package: pip install 'zerograds[ray]'" in done.stderr
    assert "Traceback" not in done.stderr
