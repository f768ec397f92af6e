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
    obj = bpy.data.objects.new(name, mesh)
    obj.location = location
    bpy.context.scene.collection.objects.link(obj)
    if material is not None:
        mesh.materials.append(material)
    return obj


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
