"""The add-on's sources parse on the oldest Python a declared Blender bundles."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_addon_sources_parse_as_python_3_10():
    """Older Blenders run older Pythons: no 3.11-only syntax (e.g. except*) in the add-on."""
    import ast

    folder = os.path.join(ROOT, "blender_addon")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                ast.parse(f.read(), filename=name, feature_version=(3, 10))
