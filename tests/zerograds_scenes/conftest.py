"""ZeroGrads task scenes and link parameters: real bpy in this process (imported once), tiny renders."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

bpy = pytest.importorskip("bpy", reason="the `bpy` module (pip install bpy) is needed for the scene tests")
