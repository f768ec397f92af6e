"""ZeroGrads task scenes and link parameters: real bpy in this process (imported once), tiny renders."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

bpy = pytest.importorskip("bpy", reason="the `bpy` module (pip install bpy) is needed for the scene tests")
