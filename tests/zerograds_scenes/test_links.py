"""The "link" parameter kind: resolve without eval, apply/undo, rollback, .blend round trip, renders."""

import numpy as np
import pytest

from blender_addon import api, jobfile, params, render
from blender_addon.datapath import DataPathError
from optimizer_server.wire.paramref import LinkRef, ParamRef
from scenes import zg_node_graph as ng

TREE = ng.TREE


def link(from_node, from_socket, to_node, to_socket):
    return LinkRef(from_node, from_socket, to_node, to_socket)


def ref(the_link, path=TREE, name="l"):
    return ParamRef(name, path, link=the_link)


@pytest.fixture()
def graph_scene():
    task = ng.spec("ci")
    scene = task.build()
    render.configure(scene, 32, 32, 4)
    return task, scene


def tree():
    import bpy

    return bpy.data.materials[ng.MATERIAL].node_tree


def linked_pairs():
    return sorted(
        (lk.from_node.name, lk.from_socket.identifier, lk.to_node.name, lk.to_socket.identifier) for lk in tree().links
    )


def test_resolve_read_write_and_restore(graph_scene):
    task, _ = graph_scene
    bindings = params.resolve_all([p.ref() for p in task.params])
    assert [b.kind for b in bindings] == ["bool"] * 24
    assert params.read_values(bindings) == task.values("start")
    before = linked_pairs()
    saved = params.snapshot(bindings)
    params.apply_values(bindings, [0.7 if t else 0.2 for t in task.values("target")])  # relaxed → rounded
    assert params.read_values(bindings) == task.values("target")
    assert linked_pairs() != before
    params.restore(bindings, saved)
    assert linked_pairs() == before


def test_name_and_identifier_address_the_same_socket(graph_scene):
    by_name = params.resolve_ref(ref(link("Source0", "Color", "Add00", "B")))
    by_id = params.resolve_ref(ref(link("Source0", "Color", "Add00", "B_Color")))
    assert by_name.to_socket == by_id.to_socket and by_name.to_socket.identifier == "B_Color"
    assert params.spec_for(ref(by_name.link), by_name).to_dict() == {"name": "l", "kind": "bool", "lo": 0.0, "hi": 1.0}
    # A material path works too: its node tree is used.
    assert params.resolve_ref(ref(link("Source0", "Color", "Add00", "B"), f'materials["{ng.MATERIAL}"]')).path == TREE


@pytest.mark.parametrize(
    "bad, message",
    [
        (link("Sourse0", "Color", "Add00", "B"), "no node named 'Sourse0'; did you mean 'Source0'"),
        (link("Source0", "Colour", "Add00", "B"), "has no output 'Colour'; did you mean 'Color'"),
        (link("Source0", "Color", "Add00", "Result"), "'Result' of node 'Add00' is an output"),
        (link("Source0", "Color", "Add00", "A_Float"), "is not in use"),
        (link("Add00", "Result", "Add00", "B"), "links a node to itself"),
        (link("Source0", "Color", "Add00", "A"), "fed by Add"),  # Add00.A is free; Add01.A is not
    ],
)
def test_bad_links_name_the_problem(graph_scene, bad, message):
    if message == "fed by Add":
        bad = link("Source0", "Color", "Add01", "A")
    before = linked_pairs()
    with pytest.raises(DataPathError, match=message):
        bindings = params.resolve_all([ref(bad)])
        params.apply_values(bindings, [1.0])
    assert linked_pairs() == before  # nothing half-applied


def test_shader_into_colour_is_refused(graph_scene):
    import bpy

    t = tree()
    emission = next(n for n in t.nodes if n.type == "EMISSION")
    with pytest.raises(DataPathError, match="shader output"):
        params.resolve_ref(ref(link(emission.name, "Emission", "Add00", "B")))
    assert bpy.data.materials[ng.MATERIAL].node_tree == t


def test_failed_write_rolls_back_every_parameter(graph_scene):
    """A link that closes a loop fails in the middle of a sample: earlier writes are undone."""
    task, _ = graph_scene
    good = [p.ref() for p in task.params[:3]]
    loop = ref(link("Add05", "Result", "Add00", "A"), name="loop")  # Add00 feeds Add05
    bindings = params.resolve_all(good + [loop])
    before = linked_pairs()
    with pytest.raises(DataPathError, match="closes a loop"):
        params.apply_values(bindings, [1.0 - v for v in task.values("start")[:3]] + [1.0])
    assert linked_pairs() == before


def test_job_file_link_entries(tmp_path):
    blend = tmp_path / "s.blend"
    blend.write_bytes(b"BLENDER-v404")  # parsed, never opened: a job file checks only its first bytes
    base = 'blend = "s.blend"\n[target]\nvalues = { l = 1 }\n[method]\nname = "zerograds"\nbudget = 4\n'
    good = (
        '[[params]]\nname = "l"\npath = \'materials["M"].node_tree\'\nfrom_node = "N"\nfrom_socket = "Color"\n'
        'to_node = "Mix"\nto_socket = "A"\n'
    )
    (tmp_path / "job.toml").write_text(base + good)
    job = jobfile.load(str(tmp_path / "job.toml"))
    assert job.params[0].link == link("N", "Color", "Mix", "A") and job.params[0].value_kind == "bool"
    for extra, message in (
        ('to_node = "Mix"\n', "missing to_socket"),
        ("min = 0\n", "leave out min"),
        ('kind = "int"\n', "make it a link \\(on/off\\); leave kind out"),
    ):
        text = good.replace('to_socket = "A"\n', "") if "missing" in message else good + extra
        (tmp_path / "bad.toml").write_text(
            base + text.replace('to_node = "Mix"\nto_node = "Mix"\n', 'to_node = "Mix"\n')
        )
        with pytest.raises(jobfile.JobFileError, match=message):
            jobfile.load(str(tmp_path / "bad.toml"))


def test_link_parameter_survives_save_and_load(graph_scene, tmp_path):
    import bpy

    import blender_addon

    blender_addon.register()
    try:
        scene = bpy.context.scene
        item = api.add_link_param(scene, TREE, "Source1", "Color", "Add07", "B")
        assert api.add_link_param(scene, TREE, "Source1", "Color", "Add07", "B") == item  # no duplicate
        with pytest.raises(DataPathError, match="no node named"):
            api.add_link_param(scene, TREE, "Nope", "Color", "Add07", "B")
        assert len(scene.zerograds.params) == 1
        path = str(tmp_path / "links.blend")
        bpy.ops.wm.save_as_mainfile(filepath=path)
        bpy.ops.wm.open_mainfile(filepath=path, load_ui=False)
        scene = bpy.context.scene
        (loaded,) = scene.zerograds.params
        assert loaded.is_link and loaded.kind == "bool"
        assert api.param_refs(scene) == [ParamRef(loaded.name, TREE, link=link("Source1", "Color", "Add07", "B"))]
        assert api.param_problem(loaded) is None
        assert api.param_specs(scene)[0].kind == "bool"
    finally:
        blender_addon.unregister()


def test_link_changes_the_render_under_persistent_data(graph_scene):
    """Creating/removing a link must reach Cycles' persistent data; undoing gives the same picture back."""
    _, scene = graph_scene
    (b,) = params.resolve_all([ref(link("Source3", "Color", "Add09", "B"))])
    start = b.read()
    with render.Renderer(scene) as renderer:
        first = renderer.render(seed=0)
        params.apply_values([b], [1.0 - start])
        flipped = renderer.render(seed=0)
        params.apply_values([b], [start])
        again = renderer.render(seed=0)
    assert np.abs(flipped - first).max() > 0.05
    np.testing.assert_array_equal(again, first)
