"""What the high-dimensional tasks (TEXTURE, MESH, CAUSTIC heightfield; ZeroGrads Fig. 5.8-5.11) share.

Their parameters are array blocks (an image's pixels, a mesh's vertices), so their start and target
values are arrays, made here with numpy alone: the registry and the job files read the tasks without
Blender. The meshes are built from the same numpy vertices (``icosphere`` from
``optimizer_server/problems/sphere.py``, ``grid``), so a target
defined on those vertices is defined on the scene's. ``bpy`` is imported inside the builders only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from scenes.task import Param, SceneTask, check_params

SPP = 16


def hd_task(
    name: str,
    title: str,
    description: str,
    size: str,
    params: Sequence[Param],
    build: Callable,
    renders: int,
    long_side: int,
    cameras: Sequence[str] = (),
    quick_renders: int | None = None,
) -> SceneTask:
    """A task neither paper's benchmark code has in Blender: `auto` by default, its own budget and size."""
    return SceneTask(
        name,
        title,
        description,
        check_params(params),
        build,
        renders=renders,
        quick_renders=quick_renders,
        spp=SPP,
        long_side=long_side,
        min_long_side=long_side,
        cameras=tuple(cameras),
        size=size,
        method="auto",
    )


# --- numpy geometry -----------------------------------------------------------------------------------------
def grid(side: int, size: float) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A flat side×side grid of vertices (z = 0) spanning ``size``, row by row, and its quads."""
    ticks = np.linspace(-size / 2, size / 2, side)
    xs, ys = np.meshgrid(ticks, ticks)
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(side * side)], axis=1)
    quads = [
        (r * side + c, r * side + c + 1, (r + 1) * side + c + 1, (r + 1) * side + c)
        for r in range(side - 1)
        for c in range(side - 1)
    ]
    return verts, quads


def sphere_bumps(points: np.ndarray, seed: int, count: int = 6, amplitude: float = 0.2) -> np.ndarray:
    """Smooth offsets on the unit sphere: a few Gaussian bumps and dents of 0.35-0.6 rad, deterministic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, 3))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    heights = amplitude * rng.uniform(0.5, 1.0, count) * rng.choice([-1.0, 1.0], count)
    widths = rng.uniform(0.35, 0.6, count)
    angle = np.arccos(np.clip(points @ centres.T, -1.0, 1.0))  # (V, count)
    return np.sum(heights * np.exp(-0.5 * (angle / widths) ** 2), axis=1)


def plane_bumps(points: np.ndarray, seed: int, count: int = 4, amplitude: float = 0.15) -> np.ndarray:
    """Smooth heights over a plane spanning about [-1, 1]²: Gaussian lenses (and a dent), deterministic."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.55, 0.55, size=(count, 2))
    heights = amplitude * rng.uniform(0.6, 1.0, count) * np.where(np.arange(count) == count - 1, -0.7, 1.0)
    widths = rng.uniform(0.2, 0.32, count)
    d2 = np.sum((points[:, None, :2] - centres[None]) ** 2, axis=2)
    return np.sum(heights * np.exp(-0.5 * d2 / widths**2), axis=1)


def painting(height: int, width: int, seed: int) -> np.ndarray:
    """A (H, W, 3) picture in [0.05, 0.95], rows top-down: coloured blobs, a ring and a soft gradient."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    image = np.stack([0.25 + 0.35 * x, 0.3 + 0.3 * y, 0.55 - 0.25 * x], axis=2)
    for _ in range(7):
        cy, cx = rng.uniform(0.1, 0.9, 2)
        radius = rng.uniform(0.06, 0.16)
        blob = np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / radius**2)
        image += blob[:, :, None] * (rng.uniform(0.0, 1.0, 3) - image.mean(axis=(0, 1)))
    ring = np.exp(-0.5 * ((np.hypot(x - 0.5, y - 0.5) - 0.3) / 0.03) ** 2)
    image = image * (1 - 0.6 * ring[:, :, None]) + 0.6 * ring[:, :, None] * np.array([0.95, 0.85, 0.2])
    return np.clip(image, 0.05, 0.95)


# --- Blender builders (bpy inside) ---------------------------------------------------------------------------
def mesh_from(name: str, verts: np.ndarray, faces, material=None, smooth: bool = True, location=(0.0, 0.0, 0.0)):
    """A mesh object from numpy vertices and faces (vertex order kept), with UVs from x, y for flat ones."""
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(v) for v in verts.tolist()], [], [tuple(f) for f in faces])
    for poly in mesh.polygons:
        poly.use_smooth = smooth
    if material is not None:
        mesh.materials.append(material)
    obj = bpy.data.objects.new(name, mesh)
    obj.location = location
    bpy.context.scene.collection.objects.link(obj)
    return obj


def textured_quad(name: str, size: float, material):
    """A square of ``size`` with UVs 0..1 (u along x, v along y), for a texture seen whole."""
    import bpy

    h = size / 2
    obj = mesh_from(name, np.array([(-h, -h, 0), (h, -h, 0), (h, h, 0), (-h, h, 0)]), [(0, 1, 2, 3)], material)
    uv = obj.data.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", [0, 0, 1, 0, 1, 1, 0, 1])
    bpy.context.view_layer.update()
    return obj


def float_image(name: str, texels: np.ndarray):
    """A packed 32-bit float RGBA image holding (H, W, 3) texels (rows top-down), saved with the .blend."""
    import bpy

    h, w, _ = texels.shape
    image = bpy.data.images.new(name, w, h, alpha=True, float_buffer=True)
    rgba = np.ones((h, w, 4), dtype=np.float32)
    rgba[:, :, :3] = texels
    image.pixels.foreach_set(rgba[::-1].reshape(-1))  # Blender stores rows bottom-up
    image.update()
    image.pack()
    return image


def texture_material(name: str, image):
    """A diffuse material whose base colour is ``image`` (through an Image Texture node named "Albedo")."""
    import bpy

    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    nodes = mat.node_tree.nodes
    tex = nodes.new("ShaderNodeTexImage")
    tex.name = tex.label = "Albedo"
    tex.image = image
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = 1.0
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def geometry_nodes_lift(obj, attribute: str = "lift"):
    """A Float point attribute `attribute` (zero) on a mesh object, and a geometry-nodes modifier moving
    each point along its normal by it: every write of the attribute re-runs the nodes. Returns the
    modifier."""
    import bpy

    obj.data.attributes.new(attribute, "FLOAT", "POINT")
    tree = bpy.data.node_groups.new(attribute.title(), "GeometryNodeTree")
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nodes, links = tree.nodes, tree.links
    named = nodes.new("GeometryNodeInputNamedAttribute")
    named.data_type = "FLOAT"
    named.inputs["Name"].default_value = attribute
    scale, move = nodes.new("ShaderNodeVectorMath"), nodes.new("GeometryNodeSetPosition")
    scale.operation = "SCALE"
    links.new(nodes.new("GeometryNodeInputNormal").outputs[0], scale.inputs[0])
    links.new(named.outputs["Attribute"], scale.inputs["Scale"])
    links.new(nodes.new("NodeGroupInput").outputs[0], move.inputs["Geometry"])
    links.new(scale.outputs["Vector"], move.inputs["Offset"])
    links.new(move.outputs[0], nodes.new("NodeGroupOutput").inputs[0])
    modifier = obj.modifiers.new(tree.name, "NODES")
    modifier.node_group = tree
    return modifier
