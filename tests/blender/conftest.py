"""Blender tests run the ``bpy`` module in this process (imported once; its state is global).

Every test that builds a scene starts from factory settings, so tests do not leak into each
other. Tests that need separate Blender processes (workers) start them with subprocess.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for path in (ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

bpy = pytest.importorskip("bpy", reason="the `bpy` module (pip install bpy) is needed for the Blender tests")


@pytest.fixture(scope="module")
def kinds_scene():
    """The every-kind scene (64×48, 8 spp) and an open in-memory renderer."""
    import scene_kit

    from blender_addon import render

    scene = scene_kit.build_kinds_scene()
    with render.Renderer(scene) as renderer:
        yield scene, renderer
