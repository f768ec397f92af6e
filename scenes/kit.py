"""Builders for small Cycles scenes from code (the repository holds no .blend files).

Used by the demo (``scenes/shadows_demo.py``), the tests and the render benchmark.
"""

import bpy


def empty_scene(factory_reset=True):
    """A scene with nothing in it. Without ``factory_reset`` (a Blender with a window, where
    resetting from a script would pull the UI away) the current scene's objects are deleted."""
    if factory_reset:
        bpy.ops.wm.read_factory_settings(use_empty=True)
    else:
        for obj in list(bpy.data.objects):
            bpy.data.objects.remove(obj)
    return bpy.context.scene


def principled(name, color):
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (*color, 1.0)
    return mat


def mesh_object(name, kind, location, size=1.0, material=None):
    """A primitive mesh object built with bmesh ops (no operator context needed)."""
    import bmesh

    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    if kind == "cube":
        bmesh.ops.create_cube(bm, size=size)
    elif kind == "plane":
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=size / 2)
    else:
        bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=size / 2)
    bm.to_mesh(mesh)
    bm.free()
    return _link(name, mesh, location, material)


def camera(location, target=(0.0, 0.0, 0.0), lens=35.0):
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    cam.location = location
    cam.data.lens = lens
    direction = [t - l for t, l in zip(target, location)]
    from mathutils import Vector

    cam.rotation_euler = Vector(direction).to_track_quat("-Z", "Y").to_euler()
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    return cam


def light(name, kind, location, energy):
    data = bpy.data.lights.new(name, kind)
    data.energy = energy
    obj = bpy.data.objects.new(name, data)
    obj.location = location
    bpy.context.scene.collection.objects.link(obj)
    return obj


def world(color, strength=1.0):
    w = bpy.data.worlds.new("World")
    if bpy.app.version < (5, 0, 0):
        w.use_nodes = True
    bg = w.node_tree.nodes["Background"]
    bg.inputs["Color"].default_value = (*color, 1.0)
    bg.inputs["Strength"].default_value = strength
    bpy.context.scene.world = w
    return w


def geometry_nodes_row(name, location):
    """An object whose geometry-nodes modifier makes a row of ``Count`` small cubes."""
    obj = mesh_object(name, "cube", location, size=0.01)
    tree = bpy.data.node_groups.new("Row", "GeometryNodeTree")
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    count = tree.interface.new_socket("Count", in_out="INPUT", socket_type="NodeSocketInt")
    count.default_value, count.min_value, count.max_value = 2, 1, 8
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nodes, links = tree.nodes, tree.links
    group_in, group_out = nodes.new("NodeGroupInput"), nodes.new("NodeGroupOutput")
    line = nodes.new("GeometryNodeMeshLine")
    line.inputs["Offset"].default_value = (0.35, 0.0, 0.0)
    cube = nodes.new("GeometryNodeMeshCube")
    cube.inputs["Size"].default_value = (0.25, 0.25, 0.25)
    inst = nodes.new("GeometryNodeInstanceOnPoints")
    real = nodes.new("GeometryNodeRealizeInstances")
    links.new(group_in.outputs["Count"], line.inputs["Count"])
    links.new(line.outputs["Mesh"], inst.inputs["Points"])
    links.new(cube.outputs["Mesh"], inst.inputs["Instance"])
    links.new(inst.outputs["Instances"], real.inputs["Geometry"])
    links.new(real.outputs["Geometry"], group_out.inputs["Geometry"])
    mod = obj.modifiers.new("GeometryNodes", "NODES")
    mod.node_group = tree
    return obj, mod


def add_rigid_body(obj, kind, restitution):
    scene = bpy.context.scene
    if scene.rigidbody_world is None:
        with bpy.context.temp_override(scene=scene):
            bpy.ops.rigidbody.world_add()
    with bpy.context.temp_override(object=obj, active_object=obj, selected_objects=[obj], scene=scene):
        bpy.ops.rigidbody.object_add(type=kind)
    obj.rigid_body.restitution = restitution
    obj.rigid_body.friction = 0.0


# --- helpers for the PRDPT task scenes (scenes/cup.py ... scenes/caustic.py) -----------------------


def node_material(name, shader, **inputs):
    """A material whose output is one shader node (e.g. "ShaderNodeBsdfGlass", "ShaderNodeEmission")."""
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    nodes = mat.node_tree.nodes
    for node in [n for n in nodes if n.type != "OUTPUT_MATERIAL"]:
        nodes.remove(node)
    node = nodes.new(shader)
    for key, value in inputs.items():
        node.inputs[key].default_value = value
    output = next(n for n in nodes if n.type == "OUTPUT_MATERIAL")
    mat.node_tree.links.new(node.outputs[0], output.inputs["Surface"])
    return mat


def cylinder_object(name, radius, depth, location, material=None, segments=32):
    """A closed cylinder standing on ``location`` (its base), built with bmesh."""
    import bmesh

    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bmesh.ops.create_cone(bm, cap_ends=True, segments=segments, radius1=radius, radius2=radius, depth=depth)
    bmesh.ops.translate(bm, verts=bm.verts, vec=(0.0, 0.0, depth / 2))
    bm.to_mesh(mesh)
    bm.free()
    return _link(name, mesh, location, material)


def torus_object(name, major, minor, location, material=None, segments=(24, 10)):
    """A torus in its object's xz plane (a mug handle), built vertex by vertex (no operator context)."""
    import math

    nu, nv = segments
    verts = []
    for i in range(nu):
        u = 2 * math.pi * i / nu
        for j in range(nv):
            v = 2 * math.pi * j / nv
            r = major + minor * math.cos(v)
            verts.append((r * math.cos(u), minor * math.sin(v), r * math.sin(u)))
    faces = [
        (i * nv + j, ((i + 1) % nu) * nv + j, ((i + 1) % nu) * nv + (j + 1) % nv, i * nv + (j + 1) % nv)
        for i in range(nu)
        for j in range(nv)
    ]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    return _link(name, mesh, location, material)


def _link(name, mesh, location, material):
    obj = bpy.data.objects.new(name, mesh)
    obj.location = location
    bpy.context.scene.collection.objects.link(obj)
    if material is not None:
        mesh.materials.append(material)
    return obj


def empty(name, location=(0.0, 0.0, 0.0)):
    """An empty to parent objects to, so one transform moves them together (the mug)."""
    obj = bpy.data.objects.new(name, None)
    obj.location = location
    bpy.context.scene.collection.objects.link(obj)
    return obj


def ortho_top_camera(width_units, height=10.0):
    """An orthographic camera looking straight down (x right, y up in the picture)."""
    cam = camera((0.0, 0.0, height))
    cam.rotation_euler = (0.0, 0.0, 0.0)
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = width_units  # spans the larger image side
    return cam


def set_resolution(width, height):
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    return scene


def finish(path=None, width=64, height=64):
    """Cycles at the given size; saved to ``path`` when given (relative paths resolved here)."""
    import os

    scene = set_resolution(width, height)
    if path:
        bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(path))
    return scene


def quiet_indirect(clamp=2.0):
    """Clamp indirect samples: caustics and bounced light otherwise come as fireflies that swamp a
    16-spp loss. The bias is the same for target and candidates, so the optimum does not move."""
    cycles = bpy.context.scene.cycles
    cycles.sample_clamp_indirect = clamp
    cycles.blur_glossy = 1.0
