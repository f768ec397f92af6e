"""The files a job file names, checked: the .blend (its first bytes), the output folder (inside the
job file's folder unless allowed), target images and masks (they exist), an array block's target
values (a .npy file of numbers, never unpickled); and the TOML reader of the job file itself. Errors
are :class:`JobFileError`, naming the key."""

from __future__ import annotations

import os

from ._deps import ConfigError


class JobFileError(ConfigError):
    """A job file that cannot be run; the message names the key and the problem."""


def fail(where: str, problem: str) -> JobFileError:
    return JobFileError(f"{where}: {problem}")


def array_file(base: str, relative: str, name: str):
    """An array block's target values from a .npy file (numbers only: never unpickled)."""
    import numpy as np

    where = f"[target] values.{name}"
    path = existing(base, relative, where)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise fail(where, f"{relative!r} is not a .npy file of numbers: {exc}") from None


# What .blend files start with: plain, gzip-compressed (Blender < 3.0) and zstd-compressed (3.0+).
BLEND_MAGIC = (b"BLENDER", b"\x1f\x8b", b"\x28\xb5\x2f\xfd")


def check_blend_file(blend: str, given: str, where: str) -> None:
    with open(blend, "rb") as f:
        head = f.read(8)
    if not head.startswith(BLEND_MAGIC):
        raise fail(where, f"'blend' = {given!r} is not a Blender file ({blend}); give a .blend saved by Blender")


def output_folder(base: str, given: str, where: str, allow_outside: bool) -> str:
    """The output folder: inside the job file's folder (or anywhere with allow_outside), not a file."""
    output = os.path.normpath(os.path.join(base, given))
    inside = os.path.commonpath([os.path.realpath(output), os.path.realpath(base)]) == os.path.realpath(base)
    if not inside and not allow_outside:
        raise fail(
            where,
            f"'output' = {given!r} is outside the job file's folder ({output}); name a folder inside it, "
            "or pass --allow-output-outside to `python -m optimizer_server run`",
        )
    if os.path.exists(output) and not os.path.isdir(output):
        raise fail(where, f"'output' = {given!r} names an existing file ({output}); name a folder (it is created)")
    return output


def existing(base: str, relative: str, where: str) -> str:
    path = os.path.normpath(os.path.join(base, relative))
    if not os.path.isfile(path):
        raise fail(where, f"{relative!r}: no such file ({path})")
    return path


def toml_reader():
    """Python's tomllib (3.11+); on the Python 3.10 of Blender 3.x, the `tomli` package if installed."""
    try:
        import tomllib
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError:
            raise JobFileError(
                "reading job files needs Python 3.11 (Blender 4.x, or the bpy module) or the `tomli` package; "
                "run the job with `python -m blender_addon.batch JOB.toml` from the project's environment"
            ) from None
    return tomllib
