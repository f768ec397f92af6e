"""Save and load nested optimiser states without pickle.

A state is a tree of dicts/lists holding ``str``/``int``/``float``/``bool``/``None``,
numpy arrays and torch tensors. It is written as one ``.npz`` file: the arrays as npz members
and the tree itself as JSON in the member ``__tree__``. Loading never unpickles
(``allow_pickle=False``), so a state file from elsewhere cannot run code.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from typing import Any

import numpy as np

from .wire.errors import StateError

_TREE = "__tree__"
_FORMAT = "zerograds-state/1"


def _encode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(node, dict):
        for k in node:
            if not isinstance(k, str):
                raise StateError(f"state keys must be strings, got {k!r}")
        return {k: _encode(v, arrays) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_encode(v, arrays) for v in node]
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, (np.integer, np.floating, np.bool_)):
        return node.item()
    key = f"a{len(arrays)}"
    if isinstance(node, np.ndarray):
        if node.dtype == object:
            raise StateError("object arrays cannot be saved; use numeric arrays")
        arrays[key] = node
        return {"__array__": key}
    if type(node).__module__.startswith("torch") and hasattr(node, "detach"):
        arrays[key] = node.detach().cpu().numpy()
        return {"__tensor__": key}
    raise StateError(f"cannot save a {type(node).__name__} in a state; use numbers, strings, arrays or tensors")


def _member(arrays, key: Any) -> np.ndarray:
    if not isinstance(key, str) or key not in arrays:
        raise StateError(f"the state names an array {key!r} the file does not hold (a damaged or edited file)")
    return arrays[key]


def _decode(node: Any, arrays, torch_device) -> Any:
    if isinstance(node, dict):
        if set(node) == {"__array__"}:
            return _member(arrays, node["__array__"])
        if set(node) == {"__tensor__"}:
            import torch  # only states that hold tensors need torch

            t = torch.from_numpy(np.array(_member(arrays, node["__tensor__"])))
            return t.to(torch_device) if torch_device is not None else t
        return {k: _decode(v, arrays, torch_device) for k, v in node.items()}
    if isinstance(node, list):
        return [_decode(v, arrays, torch_device) for v in node]
    return node


def dumps_state(state: dict[str, Any]) -> bytes:
    """The bytes of a state file (see :func:`save_state`)."""
    arrays: dict[str, np.ndarray] = {}
    tree = {"format": _FORMAT, "state": _encode(state, arrays)}
    arrays[_TREE] = np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def loads_state(data: bytes, torch_device=None) -> dict[str, Any]:
    """Inverse of :func:`dumps_state`. Tensors are put on ``torch_device`` when given (else CPU)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # zipfile/numpy raise several kinds; they all mean "not a state file"
        raise StateError(f"not a readable state file: {exc}") from exc
    if _TREE not in arrays:
        raise StateError("not a state file: it has no __tree__ member")
    try:
        tree = json.loads(arrays.pop(_TREE).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise StateError(f"the state file's __tree__ is not UTF-8 JSON: {exc}") from None
    if not isinstance(tree, dict) or tree.get("format") != _FORMAT or "state" not in tree:
        found = tree.get("format") if isinstance(tree, dict) else type(tree).__name__
        raise StateError(f"state format {found!r} is not {_FORMAT!r}")
    try:
        state = _decode(tree["state"], arrays, torch_device)
    except RecursionError:
        raise StateError("the state file's tree is nested too deeply") from None
    if not isinstance(state, dict):
        raise StateError(f"a state file holds an object at its top, not a {type(state).__name__}")
    return state


def save_state(path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a crash leaves either the old or the new file."""
    write_atomically(path, dumps_state(state))


def write_atomically(path, data: bytes) -> None:
    """Replace ``path`` by ``data`` via a synced temp file in the same folder and ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_state(path, torch_device=None) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {exc}") from exc
    try:
        return loads_state(data, torch_device)
    except StateError as exc:
        raise StateError(f"{path}: {exc}") from None
