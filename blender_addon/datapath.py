"""Parse Blender data paths such as ``objects["Sphere"].location`` without eval.

A data path is a chain of steps starting from ``bpy.data``:

* ``.name``      an attribute (RNA property),
* ``["key"]``    a collection member by name, or an ID property (custom property,
                 geometry-nodes modifier input) when the owner is not a collection,
* ``[3]``        a collection member by position, or an element of an array property.

This module does not import bpy so it can be tested (and reused) anywhere.
"""

from __future__ import annotations

from ._deps import ConfigError

Step = tuple[str, str | int]  # ("attr", "location") | ("key", "Sphere") | ("index", 2)


class DataPathError(ConfigError):
    """A data path that cannot be parsed or resolved; the message points at the culprit."""


def _fail(path: str, pos: int, problem: str) -> DataPathError:
    return DataPathError(f"bad data path {path!r}: {problem} at character {pos + 1}\n    {path}\n    {' ' * pos}^")


def _read_string(path: str, pos: int) -> tuple[str, int]:
    """Read a quoted string starting at ``path[pos]``; returns (text, position after the quote)."""
    quote = path[pos]
    chars = []
    i = pos + 1
    while i < len(path):
        c = path[i]
        if c == "\\" and i + 1 < len(path):  # Blender escapes `"` and `\` in names this way
            chars.append(path[i + 1])
            i += 2
            continue
        if c == quote:
            return "".join(chars), i + 1
        chars.append(c)
        i += 1
    raise _fail(path, pos, "unterminated string")


def _read_ident(path: str, pos: int) -> tuple[str, int]:
    i = pos
    while i < len(path) and (path[i].isalnum() or path[i] == "_"):
        i += 1
    if i == pos or path[pos].isdigit():
        raise _fail(path, pos, "expected a property name")
    return path[pos:i], i


def parse(path: str) -> list[Step]:
    """Split a data path into steps; raises :class:`DataPathError` naming the bad character."""
    if not isinstance(path, str) or not path.strip():
        raise DataPathError(f"a data path must be a non-empty string, got {path!r}")
    path = path.strip()
    if path.startswith("bpy.data."):
        path = path[len("bpy.data.") :]
    steps: list[Step] = []
    name, pos = _read_ident(path, 0)
    steps.append(("attr", name))
    while pos < len(path):
        c = path[pos]
        if c == ".":
            name, pos = _read_ident(path, pos + 1)
            steps.append(("attr", name))
        elif c == "[":
            pos += 1
            if pos < len(path) and path[pos] in "\"'":
                key, pos = _read_string(path, pos)
                steps.append(("key", key))
            else:
                end = pos
                while end < len(path) and (path[end].isdigit() or (end == pos and path[end] == "-")):
                    end += 1
                if end == pos or path[pos:end] == "-":
                    raise _fail(path, pos, "expected a quoted name or a whole number inside [ ]")
                steps.append(("index", int(path[pos:end])))
                pos = end
            if pos >= len(path) or path[pos] != "]":
                raise _fail(path, pos, "expected ']'")
            pos += 1
        else:
            raise _fail(path, pos, f"unexpected {c!r}")
    return steps


# The bpy.data collections whose data can change a render. Anything else (texts and scripts, the
# UI: window_managers, screens, workspaces; libraries, brushes, ...) is not a parameter: a job file
# or a client must not be able to write there (a text's use_module would run on the next load).
RENDER_DATA = (
    "objects", "meshes", "materials", "worlds", "lights", "cameras", "scenes", "node_groups", "textures",
    "images", "curves", "hair_curves", "armatures", "lattices", "metaballs", "volumes", "pointclouds",
    "particles", "collections", "actions", "lightprobes", "speakers", "linestyles", "movieclips", "masks",
    "shape_keys", "grease_pencils", "grease_pencils_v3", "fonts", "cache_files",
)  # fmt: skip
# Steps refused anywhere in a path: code (drivers' Python expressions, text modules) and file paths.
_NOT_PARAMETERS = ("drivers", "driver", "use_module", "filepath", "filepath_raw", "library")


def check_render_path(path: str) -> list[Step]:
    """Parse ``path`` and check that it stays in data that can affect a render; the parsed steps."""
    steps = parse(path)
    root = steps[0][1]
    if root not in RENDER_DATA:
        raise DataPathError(
            f"data path {path!r} starts in bpy.data.{root}, which cannot change a render; parameters live in "
            f"{', '.join(RENDER_DATA[:8])}, ... (texts, scripts, window_managers, screens, workspaces and "
            "preferences are never parameters)"
        )
    for kind, value in steps[1:]:
        if kind == "attr" and value in _NOT_PARAMETERS:
            raise DataPathError(f"data path {path!r} reaches {value!r}, which is never a render parameter")
    return steps


def format_steps(steps: list[Step]) -> str:
    """The inverse of :func:`parse` (canonical quoting), for messages and stored paths."""
    out = []
    for kind, value in steps:
        if kind == "attr":
            out.append(("." if out else "") + str(value))
        elif kind == "key":
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
        else:
            out.append(f"[{value}]")
    return "".join(out)
