import numpy as np
import pytest
import torch

from optimizer_server.state_io import dumps_state, load_state, loads_state, save_state
from optimizer_server.wire.errors import StateError

from .helpers import assert_trees_equal


def sample_state():
    return {
        "a": 1,
        "b": [1.5, None, True, "s"],
        "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
        "t": torch.tensor([1, 2, 3], dtype=torch.uint8),
        "nested": {"big": 2**100, "f": float("inf")},
    }


def test_roundtrip_through_a_file(tmp_path):
    path = tmp_path / "s.npz"
    save_state(path, sample_state())
    assert_trees_equal(sample_state(), load_state(path))
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temp files left behind


def test_unsupported_objects_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(StateError, match="cannot save a object"):
        dumps_state({"x": object()})
    with pytest.raises(StateError, match="keys must be strings"):
        dumps_state({1: 2})
    with pytest.raises(StateError, match="not a readable state file"):
        loads_state(b"garbage")
    # an .npz holding a pickled object array must not be unpickled
    import io

    buf = io.BytesIO()
    np.savez(buf, __tree__=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(StateError):
        loads_state(buf.getvalue())
