"""Real Cycles renders (64×48, 8 spp): every parameter kind changes the image, persistent data included."""

import numpy as np
import pytest
import scene_kit

from blender_addon import params, render


def render_at(scene, renderer, frame=None, seed=3):
    if frame is not None:
        render.step_frames(scene, frame)
    return renderer.render(seed=seed)


@pytest.mark.parametrize(
    "label, path, index, new_value",
    scene_kit.KIND_CASES + [scene_kit.RIGID_BODY_CASE],
    ids=[c[0] for c in scene_kit.KIND_CASES + [scene_kit.RIGID_BODY_CASE]],
)
def test_every_kind_changes_the_render_and_restores_it(kinds_scene, label, path, index, new_value):
    scene, renderer = kinds_scene
    frame = scene_kit.RIGID_BODY_FRAME if path == scene_kit.RIGID_BODY_CASE[1] else None
    binding = params.resolve(path, index)
    before = render_at(scene, renderer, frame)
    start = params.read_values([binding])
    try:
        params.apply_values([binding], [new_value])
        changed = render_at(scene, renderer, frame)
    finally:
        params.apply_values([binding], start)
    after = render_at(scene, renderer, frame)
    if frame is not None:
        scene.frame_set(scene.frame_start)
    # A change persistent data ignored would leave the image bit-identical.
    assert np.abs(changed - before).mean() > 1e-4, f"{label}: the render did not change"
    np.testing.assert_array_equal(after, before, err_msg=f"{label}: setting the value back changed the image")


def test_same_seed_same_image_other_seed_other_noise(kinds_scene):
    scene, renderer = kinds_scene
    a, b, c = renderer.render(seed=11), renderer.render(seed=11), renderer.render(seed=12)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0


def test_image_is_top_down_linear_rgba(kinds_scene):
    scene, renderer = kinds_scene
    image = renderer.render(seed=1)
    assert image.shape == (48, 64, 4) and image.dtype == np.float32
    sky, floor = image[:4, :, :3].mean(), image[-4:, :, :3].mean()
    assert floor > 3 * sky, "row 0 must be the top of the picture (dark sky), the last row the floor"
    assert image[..., 3].min() == pytest.approx(1.0)


def test_memory_readback_equals_exr(kinds_scene):
    scene, renderer = kinds_scene
    in_memory = renderer.render(seed=5)
    with render.Renderer(scene, readback="exr") as exr_renderer:
        from_file = exr_renderer.render(seed=5)
    np.testing.assert_array_equal(in_memory, from_file)


def test_no_camera_is_a_clear_error(kinds_scene):
    scene, renderer = kinds_scene
    camera = scene.camera
    scene.camera = None
    try:
        with pytest.raises(render.RenderError, match="no active camera"):
            renderer.render(seed=1)
    finally:
        scene.camera = camera


def test_renderer_unwraps_cycles_on_close(kinds_scene):
    import cycles

    scene, _ = kinds_scene
    wrapped = cycles.CyclesRender.render
    with render.Renderer(scene):
        assert cycles.CyclesRender.render is not wrapped
    assert cycles.CyclesRender.render is wrapped


def test_worker_callback_steps_physics_to_the_job_frame_and_rounds_discrete_values(kinds_scene):
    """The render_batch callback the workers run: one job's settings, a batch of samples."""
    from blender_addon import jobspec
    from blender_addon.worker import SceneRenderer

    scene, _ = kinds_scene
    from optimizer_server.wire.paramref import ParamRef

    paths = [
        ParamRef("bounce", scene_kit.RIGID_BODY_CASE[1]),
        ParamRef("copies", 'objects["Box"].modifiers["Array"].count'),
    ]
    settings = dict(
        jobspec.render_settings(64, 48, 8, paths, frame=scene_kit.RIGID_BODY_FRAME),
        params=[{"name": "bounce"}, {"name": "copies"}],
        job="j1",
    )
    with SceneRenderer(scene) as worker:
        values = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 1.4]])
        images = worker(values, settings, np.array([5, 5, 5, 5]))
        assert images.shape == (4, 48, 64, 4) and images.dtype == np.float32
        assert np.abs(images[1] - images[0]).mean() > 1e-4  # restitution matters at frame 34
        np.testing.assert_array_equal(images[2], images[0])  # same values, same seed: same picture
        np.testing.assert_array_equal(images[3], images[0])  # 1.4 copies rounds to 1
        assert scene.frame_current == scene_kit.RIGID_BODY_FRAME
    import bpy

    assert bpy.data.objects["Drop"].rigid_body.restitution == 0.0  # the job's changes were given back
    scene.frame_set(scene.frame_start)
