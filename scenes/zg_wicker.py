"""WICKER (ZeroGrads Sec. 5.4.3): integer inputs of a geometry-nodes weave.

A geometry-nodes modifier makes an open basket: a grid of upright stakes (``Stakes X`` × ``Stakes Y``
on the floor, a fixed pitch apart) and ``Repetitions`` square rings woven round them, stacked from
the bottom up. The parameters are the modifier's three int inputs (ID properties ``Socket_1..3``;
the add-on tags the object for them).

The rings are thin and darker than the stakes, so that the camera, looking down into the basket,
sees every stake and every ring, and the counts change the basket's size and height rather than
only where its parts sit. A first version stacked full slabs between stakes spread over a fixed
width: the slabs hid the stakes, all 81 stake counts rendered within the Monte-Carlo noise of the
target (32 px, 16 spp), and every wrong repetition count looked equally wrong.

    python -m scenes.zg_wicker [--size ci|full] [--out build/scenes]
"""

import sys

from scenes import task
from scenes import zerograds_kit as zk

MOD = 'objects["Wicker"].modifiers["Weave"]'
# (interface name, socket identifier Blender gives the n-th created socket, lo, hi, start, target)
INPUTS = (
    ("Stakes X", "Socket_1", 2, 10, 3, 7),
    ("Stakes Y", "Socket_2", 2, 10, 8, 4),
    ("Repetitions", "Socket_3", 1, 10, 2, 6),
)
PARAMS = task.check_params(
    [
        task.param(name.lower().replace(" ", "_"), f'{MOD}["{ident}"]', -1, lo, hi, start, target, kind="int")
        for name, ident, lo, hi, start, target in INPUTS
    ]
)


STAKE_PITCH = 0.3  # between neighbouring stakes (a count of 10 spans 2.7)
STAKE_HEIGHT = 2.0
RING_PITCH = 0.2  # between neighbouring rings (the tenth sits at the stakes' tops)


def weave_tree(stake_material, ring_material):
    """The WICKER geometry-nodes graph. (Over 60 lines: one node after another, wired as built; split
    up it would only scatter the wiring.)"""
    import bpy

    tree = bpy.data.node_groups.new("Weave", "GeometryNodeTree")
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    for name, ident, lo, hi, start, _ in INPUTS:
        sock = tree.interface.new_socket(name, in_out="INPUT", socket_type="NodeSocketInt")
        sock.default_value, sock.min_value, sock.max_value = start, lo, hi
        if sock.identifier != ident:  # the job files name the identifier; fail loudly if Blender changes it
            raise RuntimeError(f"geometry-nodes input {name!r} got identifier {sock.identifier!r}, expected {ident!r}")
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    n, link = tree.nodes.new, tree.links.new
    group_in, group_out = n("NodeGroupInput"), n("NodeGroupOutput")

    def spread(count, extra):
        """(count - 1) · pitch + extra: stakes stand a fixed pitch apart, so the basket grows with the count."""
        size = n("ShaderNodeMath")
        size.operation = "MULTIPLY_ADD"
        link(count, size.inputs[0])
        size.inputs[1].default_value, size.inputs[2].default_value = STAKE_PITCH, extra - STAKE_PITCH
        return size.outputs["Value"]

    grid = n("GeometryNodeMeshGrid")  # stake positions on the floor
    link(group_in.outputs["Stakes X"], grid.inputs["Vertices X"])
    link(group_in.outputs["Stakes Y"], grid.inputs["Vertices Y"])
    link(spread(group_in.outputs["Stakes X"], 0.0), grid.inputs["Size X"])
    link(spread(group_in.outputs["Stakes Y"], 0.0), grid.inputs["Size Y"])
    stake = n("GeometryNodeMeshCube")
    stake.inputs["Size"].default_value = (0.1, 0.1, STAKE_HEIGHT)

    def painted(mesh, material):
        """Generated geometry carries no material (it would render in the default grey)."""
        paint = n("GeometryNodeSetMaterial")
        paint.inputs["Material"].default_value = material
        link(mesh, paint.inputs["Geometry"])
        return paint.outputs["Geometry"]

    stakes = n("GeometryNodeInstanceOnPoints")
    link(grid.outputs["Mesh"], stakes.inputs["Points"])
    link(painted(stake.outputs["Mesh"], stake_material), stakes.inputs["Instance"])
    line = n("GeometryNodeMeshLine")  # ring heights: from the bottom up, a fixed pitch apart
    line.mode = "OFFSET"
    line.inputs["Start Location"].default_value = (0.0, 0.0, 0.1 - STAKE_HEIGHT / 2)
    line.inputs["Offset"].default_value = (0.0, 0.0, RING_PITCH)
    link(group_in.outputs["Repetitions"], line.inputs["Count"])
    ring = n("GeometryNodeCurvePrimitiveQuadrilateral")  # a square ring just outside the stakes
    link(spread(group_in.outputs["Stakes X"], 0.12), ring.inputs["Width"])
    link(spread(group_in.outputs["Stakes Y"], 0.12), ring.inputs["Height"])
    profile = n("GeometryNodeCurvePrimitiveCircle")
    profile.inputs["Radius"].default_value = 0.07
    tube = n("GeometryNodeCurveToMesh")
    link(ring.outputs["Curve"], tube.inputs["Curve"])
    link(profile.outputs["Curve"], tube.inputs["Profile Curve"])
    rods = n("GeometryNodeInstanceOnPoints")
    link(line.outputs["Mesh"], rods.inputs["Points"])
    link(painted(tube.outputs["Mesh"], ring_material), rods.inputs["Instance"])
    join, real = n("GeometryNodeJoinGeometry"), n("GeometryNodeRealizeInstances")
    link(stakes.outputs["Instances"], join.inputs["Geometry"])
    link(rods.outputs["Instances"], join.inputs["Geometry"])
    link(join.outputs["Geometry"], real.inputs["Geometry"])
    link(real.outputs["Geometry"], group_out.inputs["Geometry"])
    return tree


def build(path=None, width=32, height=32):
    from scenes import kit

    zk.studio((3.2, -4.2, 4.2), target=(0.0, 0.0, 0.8))
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=10, material=kit.principled("Floor", (0.5, 0.5, 0.5)))
    stakes, rings = kit.principled("Willow", (0.8, 0.6, 0.3)), kit.principled("Weaver", (0.35, 0.18, 0.06))
    wicker = kit.mesh_object("Wicker", "cube", (0.0, 0.0, STAKE_HEIGHT / 2), size=0.01, material=stakes)
    mod = wicker.modifiers.new("Weave", "NODES")
    mod.node_group = weave_tree(stakes, rings)  # light stakes, dark rings: both counts show
    for _, ident, _, _, start, _ in INPUTS:
        mod[ident] = start
    kit.light("Lamp", "POINT", (2.0, -2.5, 4.0), 500.0)
    return zk.finish(path, width, height)


def spec(size):
    return zk.zg_task(
        "zg_wicker",
        "WICKER",
        "stake counts (x, y) and repetitions of a geometry-nodes weave (ints)",
        size,
        PARAMS,
        build,
        preset="wicker",
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))
