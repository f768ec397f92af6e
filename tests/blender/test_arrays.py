"""Array parameters in real Blender: an image's pixels, a mesh's vertices and a mesh's float attribute
(read by geometry nodes) as one block each.

Writes reach Cycles with persistent data (the image really changes), several cameras make one image,
bad input (a file image Cycles reads from disk, a missing or 8-bit image, modifiers that change the
vertex count, shape keys, bounds of the wrong shape) is refused naming the fix and changes nothing,
and a job file's array values round-trip through a real server and worker into the scene exactly.
"""

import os
import threading

import numpy as np
import pytest

SIDE = 24  # 24×24×3 = 1,728 texels: samples travel to the worker as float32 (above 1,024 values)


def build_array_scene(path=None):
    """A textured canvas (a packed float image, "Albedo") and an icosphere ("Ball", 42 vertices), two cameras."""
    import bpy

    from optimizer_server.problems.sphere import icosphere
    from scenes import highdim_kit as hk
    from scenes import kit

    kit.empty_scene()
    texels = hk.painting(SIDE, SIDE, seed=1)
    image = hk.float_image("Albedo", texels)
    hk.textured_quad("Canvas", 2.0, hk.texture_material("Canvas", image))
    points, faces = icosphere(1)
    ball = hk.mesh_from("Ball", 0.4 * points, faces, kit.principled("Ball", (0.8, 0.8, 0.8)), location=(0, 0, 0.5))
    ball.vertex_groups.new(name="Top").add([i for i, p in enumerate(points) if p[2] > 0.3], 1.0, "REPLACE")
    kit.light("Lamp", "AREA", (1.0, -1.0, 3.0), 150.0).data.size = 2.0
    kit.world((0.2, 0.2, 0.2), 1.0)
    side = kit.camera((3.0, 0.0, 1.0), target=(0, 0, 0.3))
    side.name = "Side"
    front = kit.camera((0.0, -0.6, 3.6), target=(0, 0, 0))
    front.name = "Front"
    bpy.context.scene.camera = front
    return kit.finish(path, 32, 32)


def refs():
    from optimizer_server.wire.paramref import ParamRef

    return [
        ParamRef("albedo", 'images["Albedo"]', lo=0.0, hi=1.0, array={"kind": "image", "channels": "RGB"}),
        ParamRef("shape", 'objects["Ball"]', lo=-0.1, hi=0.1, array={"kind": "mesh"}),
    ]


def scene_state():
    import bpy

    image, mesh = bpy.data.images["Albedo"], bpy.data.meshes["Ball"]
    pixels = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(pixels)
    co = np.empty(3 * len(mesh.vertices), np.float32)
    mesh.vertices.foreach_get("co", co)
    return pixels, co


def test_array_blocks_bind_with_their_layout_and_writes_reach_cycles_with_persistent_data():
    from blender_addon import jobspec, params, prepare
    from blender_addon.worker import SceneRenderer

    build_array_scene()
    job = prepare.prepare(refs(), 32, 32, 8)
    albedo, shape = job.space.specs
    assert albedo.shape == (SIDE, SIDE, 3) and albedo.edges is None and job.space.grids[0].name == "albedo"
    assert shape.shape == (42,) and len(shape.edges) == 2 * 120 and job.space.graphs[0].name == "shape"
    start = job.start_named()
    np.testing.assert_allclose(start["albedo"][0, 0], job.bindings[0].read()[:3])  # rows top-down
    np.testing.assert_array_equal(start["shape"], np.zeros(42))  # offsets count from the shape as it is
    before = scene_state()
    other = job.space.from_unit(np.random.default_rng(0).random(job.space.n))
    settings = jobspec.render_settings(32, 32, 8, refs())
    with SceneRenderer(threads=1) as renderer:
        renderer.setup(settings, job.names)
        first = renderer.render_one(np.array(job.start_units), seed=3)
        changed = renderer.render_one(other, seed=3)
        again = renderer.render_one(np.array(job.start_units), seed=3)
    assert np.abs(changed - first).mean() > 1e-3  # persistent data saw the new pixels and vertices
    np.testing.assert_array_equal(first, again)  # and going back gives the very same image
    after = scene_state()
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)  # the worker gave the scene back untouched
    import bpy

    assert [i.name for i in bpy.data.images if "ZeroGrads" in i.name] == []  # its float copy is gone
    bindings = params.resolve_all(refs())
    params.apply_values(bindings, other)
    np.testing.assert_array_equal(np.float32(params.read_values(bindings)[: SIDE * SIDE * 3]), np.float32(other[:1728]))


def test_several_cameras_make_one_image_side_by_side():
    import bpy

    from blender_addon import jobspec, prepare
    from blender_addon.worker import SceneRenderer

    build_array_scene()
    job = prepare.prepare(refs(), 16, 16, 4, cameras=["Front", "Side"])
    with SceneRenderer(threads=1) as renderer:
        renderer.setup(job.settings, job.names)
        image = renderer.render_one(np.array(job.start_units), seed=1)
        assert image.shape == (16, 32, 4) and np.abs(image[:, :16] - image[:, 16:]).mean() > 1e-3
        assert bpy.context.scene.camera.name == "Front"  # the scene's own camera after each sample
    with pytest.raises(Exception, match="no camera object 'Nope'"):
        with SceneRenderer(threads=1) as renderer:
            renderer.setup(jobspec.render_settings(16, 16, 4, refs(), cameras=["Nope"]), job.names)


def test_a_vertex_group_and_xyz_mode_make_their_own_block():
    from blender_addon import params
    from optimizer_server.wire.paramref import ParamRef

    build_array_scene()
    ref = ParamRef("top", 'objects["Ball"]', array={"kind": "mesh", "mode": "xyz", "group": "Top"})
    binding = params.resolve_ref(ref)
    spec = params.spec_for(ref, binding)
    count = len(binding.vertices)
    assert 0 < count < 42 and spec.shape == (count, 3) and max(spec.edges) < count
    before = scene_state()[1].reshape(-1, 3)
    params.apply_values([binding], np.full(3 * count, 0.05))
    after = scene_state()[1].reshape(-1, 3)
    moved = np.flatnonzero(np.any(after != before, axis=1))
    np.testing.assert_array_equal(moved, binding.vertices)  # only the group's vertices moved
    np.testing.assert_allclose(after[moved] - before[moved], 0.05, atol=1e-6)


# --- a named float attribute that geometry nodes read ---------------------------------------------------
def attribute_scene():
    """The array scene, its ball lifted by a geometry-nodes tree along its normals by its point
    attribute "lift" (zero), then subdivided: modifiers that change the vertex count, which an
    attribute allows."""
    import bpy

    from scenes import highdim_kit as hk

    build_array_scene()
    ball = bpy.data.objects["Ball"]
    hk.geometry_nodes_lift(ball, "lift")
    ball.data.attributes.new("wind", "FLOAT_VECTOR", "POINT")
    ball.modifiers.new("Subdivision", "SUBSURF").levels = 1
    return bpy.context.scene


def lift_ref(**array):
    from optimizer_server.wire.paramref import ParamRef

    return ParamRef(
        "lift", 'objects["Ball"]', lo=0.0, hi=0.3, array={"kind": "attribute", "attribute": "lift", **array}
    )


def lift_values():
    import bpy

    values = np.empty(42, np.float32)
    bpy.data.meshes["Ball"].attributes["lift"].data.foreach_get("value", values)
    return values


def test_a_float_attribute_that_geometry_nodes_read_is_a_block_and_writes_reach_cycles():
    from blender_addon import jobspec, params, prepare
    from blender_addon.worker import SceneRenderer

    attribute_scene()
    chosen = [refs()[0], lift_ref()]
    job = prepare.prepare(chosen, 32, 32, 8)
    lift = job.space.specs[1]
    assert lift.shape == (42,) and len(lift.edges) == 2 * 120 and job.space.graphs[0].name == "lift"
    start = np.array(job.start_units)
    raised = start.copy()
    raised[-42:] = 1.0  # every point lifted by 0.3
    before = lift_values()
    with SceneRenderer(threads=1) as renderer:
        renderer.setup(jobspec.render_settings(32, 32, 8, chosen), job.names)
        first = renderer.render_one(start, seed=3)
        changed = renderer.render_one(raised, seed=3)
        again = renderer.render_one(start, seed=3)
    assert np.abs(changed - first).mean() > 1e-3  # persistent data re-ran the geometry nodes
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(lift_values(), before)  # the worker gave the scene back untouched
    bindings = params.resolve_all(chosen)
    values = job.space.from_unit(np.random.default_rng(0).random(job.space.n))
    params.apply_values(bindings, values)
    np.testing.assert_array_equal(lift_values(), np.float32(values[-42:]))
    np.testing.assert_array_equal(np.float32(params.read_values(bindings)[-42:]), np.float32(values[-42:]))


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing", "no such attribute; did you mean 'lift'"),
        ("vector", "holds float vector values; an attribute parameter is a Float attribute"),
        ("camera", "it is a camera object"),
        ("both", "both change"),
    ],
)
def test_bad_attribute_blocks_are_refused_naming_the_fix_and_nothing_changes(how, message):
    from blender_addon import params
    from blender_addon.datapath import DataPathError
    from optimizer_server.wire.paramref import ParamRef

    attribute_scene()
    chosen = {
        "missing": [lift_ref(attribute="lifft")],
        "vector": [lift_ref(attribute="wind")],
        "camera": [ParamRef("lift", 'objects["Front"]', array={"kind": "attribute", "attribute": "lift"})],
        "both": [lift_ref(), ParamRef("again", 'objects["Ball"]', array={"kind": "attribute", "attribute": "lift"})],
    }[how]
    before = lift_values()
    with pytest.raises(DataPathError, match=message):
        params.resolve_all(chosen)
    np.testing.assert_array_equal(lift_values(), before)


def test_the_attributes_panel_adds_the_active_float_attribute(addon):
    import bpy

    from blender_addon import api

    scene = attribute_scene()
    ball = bpy.data.objects["Ball"]
    ball.data.attributes.active = ball.data.attributes["lift"]
    with bpy.context.temp_override(object=ball, active_object=ball):
        assert bpy.ops.zerograds.add_array_param(kind="attribute") == {"FINISHED"}
    row = scene.zerograds.params[-1]
    assert (row.name, row.block_text, row.ref().array.attribute) == ("lift", "42 point values", "lift")
    assert (row.min, row.max) == (0.0, 1.0) and api.param_problem(row) is None
    assert api.add_array_param(scene, 'objects["Ball"]', "attribute", attribute="lift") == row  # once
    ball.data.attributes.active = ball.data.attributes["wind"]
    with bpy.context.temp_override(object=ball, active_object=ball):
        with pytest.raises(RuntimeError, match="a Float attribute"):
            bpy.ops.zerograds.add_array_param(kind="attribute")
    assert len(scene.zerograds.params) == 1


# --- bad input: a clear error, and nothing changed -----------------------------------------------------
def _file_image(tmp_path, missing=False):
    """The canvas's image as an EXR file Cycles reads from disk (not packed); optionally deleted."""
    import bpy

    image = bpy.data.images["Albedo"]
    path = str(tmp_path / "albedo.exr")
    image.filepath_raw, image.file_format = path, "OPEN_EXR"
    image.save()
    image.unpack(method="REMOVE")
    image.source = "FILE"
    image.reload()
    if missing:
        os.remove(path)
        image.reload()


def _byte_image():
    """A packed 8-bit image in the canvas's place."""
    import bpy

    old = bpy.data.images["Albedo"]
    old.name = "Float"
    new = bpy.data.images.new("Albedo", SIDE, SIDE, float_buffer=False)
    new.pack()
    old.user_remap(new)
    assert not new.is_float


@pytest.mark.parametrize(
    "how, message",
    [
        ("file", "Cycles reads this image from its file"),
        ("missing", "Cycles reads this image from its file|cannot be loaded"),
        ("byte", "8-bit pixels"),
        ("modifier", "change the vertex count from 42 to"),
        ("shape_keys", "shape keys"),
        ("group", "no vertex group 'Bottom'; it has 'Top'"),
    ],
)
def test_bad_blocks_are_refused_naming_the_fix_and_nothing_changes(tmp_path, how, message):
    import bpy

    from blender_addon import params
    from blender_addon.datapath import DataPathError
    from optimizer_server.wire.paramref import ParamRef

    build_array_scene()
    chosen = refs()
    if how in ("file", "missing", "byte"):
        _file_image(tmp_path, missing=how == "missing") if how != "byte" else _byte_image()
    elif how == "modifier":
        bpy.data.objects["Ball"].modifiers.new("Subdivision", "SUBSURF")
    elif how == "shape_keys":
        bpy.data.objects["Ball"].shape_key_add(name="Basis")
    else:
        chosen[1] = ParamRef("shape", 'objects["Ball"]', array={"kind": "mesh", "group": "Bottom"})
    before = scene_state() if how != "missing" else None
    with pytest.raises(DataPathError, match=message):
        params.resolve_all(chosen)
    if before is not None:
        for a, b in zip(before, scene_state()):
            np.testing.assert_array_equal(a, b)


def test_wrong_values_and_wrong_bounds_are_refused_before_anything_is_written(tmp_path):
    from blender_addon import jobfile, params
    from blender_addon.datapath import DataPathError

    build_array_scene(str(tmp_path / "arrays.blend"))
    bindings = params.resolve_all(refs())
    before = scene_state()
    good = np.array(params.read_values(bindings))
    with pytest.raises(DataPathError, match="got 1769 values for 2 parameters holding 1770"):
        params.apply_values(bindings, good[:-1])
    bad = good.copy()
    bad[5] = np.nan
    with pytest.raises(DataPathError, match="non-finite values"):
        params.apply_values(bindings, bad)
    for a, b in zip(before, scene_state()):
        np.testing.assert_array_equal(a, b)
    job = JOB.replace("min = 0.0", "min = [0.0, 0.0, 0.0]")
    (tmp_path / "job.toml").write_text(job)
    with pytest.raises(jobfile.JobFileError, match="'min' must be one number"):
        jobfile.load(str(tmp_path / "job.toml"))
    (tmp_path / "job.toml").write_text(JOB.replace('array = "image"\n', ""))
    with pytest.raises(jobfile.JobFileError, match="channels belong to an array parameter"):
        jobfile.load(str(tmp_path / "job.toml"))
    (tmp_path / "job.toml").write_text(JOB.replace('array = "mesh"', 'attribute = "lift"'))
    with pytest.raises(
        jobfile.JobFileError, match='attribute belong to an array parameter; add array = "image", "mesh"'
    ):
        jobfile.load(str(tmp_path / "job.toml"))
    _write_job(tmp_path)  # the target's .npy files
    (tmp_path / "job.toml").write_text(JOB.replace('array = "mesh"', 'array = "attribute"\nattribute = "lift"'))
    lift = jobfile.load(str(tmp_path / "job.toml")).params[1]
    assert (lift.array.kind, lift.array.attribute) == ("attribute", "lift")


def test_right_click_adds_one_row_per_block(addon):
    import bpy

    from blender_addon import api

    scene = build_array_scene()
    image_row = api.add_array_param(scene, 'images["Albedo"]', "image", channels="RGB")
    assert (image_row.name, image_row.block_text) == ("Albedo", "24×24×3 texels")
    assert api.add_array_param(scene, 'images["Albedo"]', "image") == image_row  # the same block once
    bpy.context.view_layer.objects.active = bpy.data.objects["Ball"]
    with bpy.context.temp_override(active_object=bpy.data.objects["Ball"]):
        assert bpy.ops.zerograds.add_array_param(kind="mesh") == {"FINISHED"}
    mesh_row = scene.zerograds.params[-1]
    assert (mesh_row.block_text, mesh_row.ref().array.mode) == ("42 vertices", "normal")
    assert api.param_problem(image_row) is None and api.param_problem(mesh_row) is None
    assert [r.name for r in api.param_refs(scene)] == ["Albedo", "Ball"]


@pytest.fixture()
def addon():
    import blender_addon

    blender_addon.register()
    yield blender_addon
    blender_addon.unregister()


# --- job file → server → worker → scene ----------------------------------------------------------------
JOB = """
blend = "arrays.blend"
output = "out"
[render]
width = 32
height = 32
samples = 4
[[params]]
name = "albedo"
path = 'images["Albedo"]'
array = "image"
channels = "RGB"
min = 0.0
max = 1.0
[[params]]
name = "shape"
path = 'objects["Ball"]'
array = "mesh"
min = -0.1
max = 0.1
[target]
values = { albedo = "albedo.npy", shape = "shape.npy" }
[method]
name = "gauss_newton"
budget = 20
"""


def _write_job(folder):
    rng = np.random.default_rng(7)
    np.save(folder / "albedo.npy", rng.random((SIDE, SIDE, 3)).astype(np.float32).astype(np.float64))
    np.save(folder / "shape.npy", rng.uniform(-0.1, 0.1, 42).astype(np.float32).astype(np.float64))
    (folder / "job.toml").write_text(JOB)
    return folder / "job.toml"


class RecordingRenderer:
    """The worker's SceneRenderer, noting what the scene holds after each sample is applied."""

    def __init__(self):
        from blender_addon.worker import SceneRenderer

        self.renderer = SceneRenderer(threads=1)
        self.seen = []
        inner = self.renderer.render_one

        def render_one(values, seed):
            image = inner(values, seed)
            b_image, b_mesh = self.renderer.bindings
            self.seen.append((b_image.read(), b_mesh.get_raw().copy(), b_mesh))
            return image

        self.renderer.render_one = render_one

    def __call__(self, values, settings, seeds):
        return self.renderer(values, settings, seeds)


@pytest.mark.slow
def test_array_values_round_trip_job_file_server_worker_scene_exactly(tmp_path):
    pytest.importorskip("torch", reason="the optimizer server needs torch")
    import bpy

    from blender_addon import jobfile, jobspec, prepare
    from optimizer_server.server import OptimizerServer, ServerConfig
    from optimizer_server.wire.client import OptimizerClient
    from optimizer_server.wire.worker_loop import WorkerLoop

    build_array_scene(str(tmp_path / "arrays.blend"))
    job = jobfile.load(str(_write_job(tmp_path)))
    bpy.ops.wm.open_mainfile(filepath=job.blend)
    prepared = prepare.prepare(job.params, job.width, job.height, job.samples)
    server = OptimizerServer(ServerConfig(bind="tcp://127.0.0.1:*", jobs_dir=str(tmp_path / "jobs"), device="cpu"))
    endpoint = server.start()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    recorder = RecordingRenderer()
    worker = WorkerLoop(endpoint, recorder, capabilities={"renderer": jobspec.RENDERER}, heartbeat_interval_s=0.2)
    result = {}

    def client():
        try:
            with OptimizerClient(endpoint, timeout_s=60) as c:
                handle = c.submit(
                    prepared.space,
                    job.method,
                    budget=job.budget,
                    target_values=job.target_values,
                    start=prepared.start_named(),
                    settings=prepared.settings,
                    requires={"renderer": jobspec.RENDERER},
                )
                result.update(handle.wait(timeout_s=240))
        finally:
            worker.stop()

    thread = threading.Thread(target=client)
    thread.start()
    try:
        worker.run()  # bpy on this (the main) thread
    finally:
        thread.join(timeout=30)
        recorder.renderer.close()
        server.stop()
    assert result.get("state") == "finished", result
    target_image, target_co, mesh = recorder.seen[0]  # the target is rendered first, from the job file's values
    np.testing.assert_array_equal(target_image, job.target_values["albedo"].reshape(-1))
    np.testing.assert_array_equal(target_co, mesh.positions(job.target_values["shape"]).reshape(-1))
    start_image, start_co, _ = recorder.seen[2]  # then the start: the scene's own values, exactly
    np.testing.assert_array_equal(start_image, np.float32(prepared.start_units[: SIDE * SIDE * 3]))
    np.testing.assert_array_equal(start_co, mesh.positions(np.zeros(42)).reshape(-1))
    assert result["current"]["albedo"].shape == (SIDE, SIDE, 3) and np.shape(result["best"]["shape"]) == (42,)


@pytest.mark.slow
def test_a_batch_job_writes_the_blocks_and_the_blend_keeps_the_fitted_texture(tmp_path):
    pytest.importorskip("torch", reason="the optimizer server needs torch")
    import json

    import bpy

    from blender_addon import batch

    build_array_scene(str(tmp_path / "arrays.blend"))
    result = batch.run_job(str(_write_job(tmp_path)), quiet=True)
    out = tmp_path / "out"
    saved = json.loads((out / "result.json").read_text())
    assert result["state"] == saved["state"] == "finished"
    entry = saved["x"]["albedo"]
    assert entry["shape"] == [SIDE, SIDE, 3] and entry["file"] == "x_albedo.npy" and (out / "x_albedo.png").exists()
    fitted = np.load(out / "x_albedo.npy")
    assert saved["x"]["shape"]["shape"] == [42] and np.load(out / "x_shape.npy").shape == (42,)
    bpy.ops.wm.open_mainfile(filepath=str(out / "optimised.blend"))
    image = bpy.data.images["Albedo"]
    pixels = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(pixels)
    texels = pixels.reshape(SIDE, SIDE, 4)[::-1, :, :3]
    np.testing.assert_array_equal(texels, np.float32(fitted))  # packed into the .blend: saved with it
