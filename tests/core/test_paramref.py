"""The one parameter reference (wire/paramref.py), the progress/ETA formatter and the loopback check."""

import pytest

from optimizer_server.wire.errors import ConfigError
from optimizer_server.wire.paramref import LinkRef, ParamRef
from optimizer_server.wire.progress import EtaClock, format_progress
from optimizer_server.wire.transport import is_loopback

TREE = 'materials["Mat"].node_tree'


def test_wire_form_round_trips():
    plain = ParamRef("x", 'objects["Ball"].location', 0, lo=-1, hi=2.5, kind="float")
    link = ParamRef("l", TREE, link={"from_node": "N", "from_socket": "Color", "to_node": "Mix", "to_socket": "A"})
    for ref in (plain, link, ParamRef("e", 'lights["Lamp"].type')):
        assert ParamRef.from_dict(ref.to_dict()) == ref
    assert plain.to_dict() == {
        "name": "x",
        "path": 'objects["Ball"].location',
        "index": 0,
        "lo": -1.0,
        "hi": 2.5,
        "kind": "float",
    }
    assert link.link == LinkRef("N", "Color", "Mix", "A") and link.value_kind == "bool"
    assert plain.locator().to_dict() == {"name": "x", "path": 'objects["Ball"].location', "index": 0}
    assert link.describe() == f"{TREE}: N.Color -> Mix.A"


def test_older_job_files_kind_link_is_a_bool():
    d = {"name": "l", "path": TREE, "kind": "link", "link": ("N", "Color", "Mix", "A")}
    ref = ParamRef.from_dict(d)
    assert ref.kind is None and ref.value_kind == "bool" and ref.spec().kind == "bool"
    with pytest.raises(ConfigError, match="kind 'link' needs the link's four names"):
        ParamRef.from_dict({"name": "l", "path": TREE, "kind": "link"})


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ParamRef("", "objects"), "non-empty name"),
        (lambda: ParamRef("x", ""), "needs a data path"),
        (lambda: ParamRef("x", "objects", index=-2), "index must be a whole number"),
        (lambda: ParamRef("x", "objects", index=True), "index must be a whole number"),
        (lambda: ParamRef("x", "objects", kind="link"), "kind 'link' is not one of float, int, bool, enum"),
        (lambda: ParamRef("x", "objects", lo=2, hi=1), "needs lo < hi"),
        (lambda: ParamRef("x", "objects", lo=float("nan")), "lo must be a finite number"),
        (lambda: ParamRef("l", TREE, 0, link=("N", "C", "M", "A")), "has no index"),
        (lambda: ParamRef("l", TREE, link=("N", "C", "M", "A"), kind="int"), "on/off \\(kind bool\\)"),
        (lambda: ParamRef("l", TREE, link=("N", "C", "M", "A"), lo=0, hi=3), "leave out its bounds"),
        (lambda: ParamRef("l", TREE, link=("N", "", "M", "A")), "missing or empty"),
        (lambda: ParamRef("l", TREE, link={"from_node": "N"}), "missing or empty: \\['from_socket'"),
        (lambda: ParamRef.from_dict({"name": "x", "path": "p", "min": 0}), "unknown keys \\['min'\\]"),
        (lambda: ParamRef.from_dict(["x"]), "must be a mapping"),
    ],
)
def test_bad_references_are_refused_with_a_clear_error(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_spec_takes_kind_and_bounds_from_the_ref():
    assert ParamRef("n", "p", lo=1, hi=8, kind="int").spec().to_dict() == {
        "name": "n",
        "lo": 1.0,
        "hi": 8.0,
        "kind": "int",
    }
    assert ParamRef("h", "p", kind="bool").spec().discrete
    assert not ParamRef("x", "p", lo=0, hi=1).spec().discrete


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_eta_leaves_out_start_up_and_pauses():
    clock = FakeClock()
    eta = EtaClock(budget=100, clock=clock)
    clock.t += 30.0  # server and workers starting: no report yet
    assert eta.eta_s() is None
    eta.update(10)  # first report: the rate is measured from here
    assert eta.eta_s() is None
    clock.t += 10.0
    eta.update(20)  # 10 renders in 10 s → 80 left take 80 s (the 30 s start-up does not count)
    assert eta.eta_s() == pytest.approx(80.0)
    eta.pause()
    clock.t += 1000.0  # paused
    assert eta.eta_s() == pytest.approx(80.0)
    eta.resume()
    clock.t += 10.0
    eta.update(30)
    assert eta.eta_s() == pytest.approx(70.0) and eta.active_s() == pytest.approx(20.0)


def test_one_progress_format_for_terminal_and_panel():
    entry = {"iteration": 3, "evaluations": 48, "loss": 0.0123456, "best_loss": 0.001, "sigma": 0.05}
    line = format_progress(entry, 400, 75.0, label="prdpt", elapsed_s=12, values={"x": 0.5, "n": 3})
    assert line == (
        "[prdpt]  iter     3  renders     48/400  loss 0.01235  best 0.001  σ 0.05  elapsed 0:12  ETA 1:15  x=0.5, n=3"
    )
    assert format_progress(entry, 400, None, paused=True, compact=True) == "paused · 48/400 renders · ? left"
    assert format_progress(entry, 400, 62.4, compact=True) == "48/400 renders · 1:00 left"


def test_one_loopback_check():
    assert is_loopback("tcp://127.0.0.1:5555") and is_loopback("tcp://localhost:1") and is_loopback("ipc:///tmp/s")
    assert not is_loopback("tcp://192.0.2.7:5555") and not is_loopback("tcp://*:5555")
    with pytest.raises(ConfigError, match="must look like tcp://127.0.0.1:5555"):
        is_loopback("http://127.0.0.1")


# --- array parameters ------------------------------------------------------------------------------------
def test_array_refs_round_trip_and_a_worker_gets_the_block():
    image = ParamRef("albedo", 'images["Albedo"]', lo=0.0, hi=1.0, array={"kind": "image", "channels": "rgb"})
    mesh = ParamRef("shape", 'objects["Ball"]', array="mesh")
    lift = ParamRef("lift", 'objects["Ball"]', array={"kind": "attribute", "attribute": "lift"})
    assert image.array.channels == "RGB" and mesh.array.mode == "normal" and mesh.array.group == ""
    assert lift.to_dict()["array"] == {"kind": "attribute", "attribute": "lift"} and lift.array.mode == ""
    assert image.to_dict() == {
        "name": "albedo",
        "path": 'images["Albedo"]',
        "index": -1,
        "array": {"kind": "image", "channels": "RGB"},
        "lo": 0.0,
        "hi": 1.0,
    }
    for ref in (image, mesh, lift):
        assert ParamRef.from_dict(ref.to_dict()) == ref
        assert ref.locator().array == ref.array and ref.locator().lo is None
    assert "mesh vertices (normal)" in mesh.describe() and "mesh attribute 'lift'" in lift.describe()
    with pytest.raises(ConfigError, match="shape comes from the scene"):
        image.spec()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(array={"kind": "volume"}), "one of image, mesh, attribute"),
        (dict(array={"kind": "attribute"}), "needs the attribute's name"),
        (dict(array={"kind": "attribute", "attribute": "a", "group": "Top"}), "names its attribute only"),
        (dict(array={"kind": "mesh", "attribute": "a"}), "not channels or an attribute"),
        (dict(array={"kind": "image", "attribute": "a"}), "not a mode, a vertex group or an attribute"),
        (dict(array={"kind": "image", "mode": "xyz"}), "channels, not a mode"),
        (dict(array={"kind": "image", "channels": "RGBX"}), "distinct letters of RGBA"),
        (dict(array={"kind": "image", "channels": "BGR"}), "write 'RGB'"),
        (dict(array={"kind": "mesh", "channels": "RGB"}), "not channels"),
        (dict(array={"kind": "mesh", "mode": "radial"}), "'normal'"),
        (dict(array={"kind": "mesh", "size": 3}), "unknown array keys"),
        (dict(array="mesh", index=2), "leave the index out"),
        (dict(array="mesh", kind="int"), "float values"),
        (dict(array="mesh", link=("A", "B", "C", "D")), "a link or an array"),
    ],
)
def test_bad_array_refs_are_refused_naming_the_fix(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ParamRef("p", 'objects["Ball"]', **kwargs)
