"""Scene tests build and render in subprocesses: bpy holds global state and the other test folders
import it in the pytest process too."""

import pytest
from scenes_support import python


@pytest.fixture(scope="session")
def built_scenes(tmp_path_factory):
    """Every registered task's .blend and job file (ZeroGrads' at ci size), built by `make scenes`' own command."""
    pytest.importorskip("bpy", reason="building scenes needs the `bpy` module")
    folder = tmp_path_factory.mktemp("scenes")
    python("-m", "scenes.registry", "--size", "ci", "--out", str(folder))
    return folder
