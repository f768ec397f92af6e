"""WICKER (ZeroGrads Sec. 5.4.3): integer inputs of a geometry-nodes weave.

A geometry-nodes modifier makes a basket wall: a grid of upright stakes (``Stakes X`` × ``Stakes Y``
on the floor) and ``Repetitions`` horizontal rods stacked between them. The parameters are the
modifier's three int inputs (ID properties ``Socket_1..3``; the add-on tags the object for them).

    python scenes/zg_wicker.py [--size ci|full] [--out build/scenes]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scenes import task, zerograds_kit as zk  # noqa: E402

MOD = 'objects["Wicker"].modifiers["Weave"]'
# (interface name, socket identifier Blender gives the n-th created socket, lo, hi, start, target)
INPUTS = (("Stakes X", "Socket_1", 2, 10, 3, 7), ("Stakes Y", "Socket_2", 2, 10, 8, 4),
          ("Repetitions", "Socket_3", 1, 10, 2, 6))
PARAMS = task.check_params([task.Param(name.lower().replace(" ", "_"), f'{MOD}["{ident}"]', -1, lo, hi, start, target,
                                       kind="int")
                          for name, ident, lo, hi, start, target in INPUTS])


def weave_tree():
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
    grid = n("GeometryNodeMeshGrid")  # stake positions on the floor
    grid.inputs["Size X"].default_value = grid.inputs["Size Y"].default_value = 2.0
    link(group_in.outputs["Stakes X"], grid.inputs["Vertices X"])
    link(group_in.outputs["Stakes Y"], grid.inputs["Vertices Y"])
    stake = n("GeometryNodeMeshCube")
    stake.inputs["Size"].default_value = (0.06, 0.06, 1.6)
    stakes = n("GeometryNodeInstanceOnPoints")
    link(grid.outputs["Mesh"], stakes.inputs["Points"])
    link(stake.outputs["Mesh"], stakes.inputs["Instance"])
    line = n("GeometryNodeMeshLine")  # rod heights
    line.inputs["Start Location"].default_value = (0.0, 0.0, -0.7)
    line.mode = "END_POINTS"
    line.inputs["Offset"].default_value = (0.0, 0.0, 0.7)  # the end point in END_POINTS mode
    link(group_in.outputs["Repetitions"], line.inputs["Count"])
    rod = n("GeometryNodeMeshCube")
    rod.inputs["Size"].default_value = (2.2, 2.2, 0.05)
    rods = n("GeometryNodeInstanceOnPoints")
    link(line.outputs["Mesh"], rods.inputs["Points"])
    link(rod.outputs["Mesh"], rods.inputs["Instance"])
    join, real = n("GeometryNodeJoinGeometry"), n("GeometryNodeRealizeInstances")
    link(stakes.outputs["Instances"], join.inputs["Geometry"])
    link(rods.outputs["Instances"], join.inputs["Geometry"])
    link(join.outputs["Geometry"], real.inputs["Geometry"])
    link(real.outputs["Geometry"], group_out.inputs["Geometry"])
    return tree


def build(path=None, width=32, height=32):
    from scenes import kit
    zk.studio((2.6, -3.4, 2.2), target=(0.0, 0.0, 0.9))
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=10, material=kit.principled("Floor", (0.5, 0.5, 0.5)))
    wicker = kit.mesh_object("Wicker", "cube", (0.0, 0.0, 0.9), size=0.01,
                             material=kit.principled("Willow", (0.75, 0.5, 0.2)))
    mod = wicker.modifiers.new("Weave", "NODES")
    mod.node_group = weave_tree()
    for (_, ident, _, _, start, _) in INPUTS:
        mod[ident] = start
    kit.light("Lamp", "POINT", (2.0, -2.5, 4.0), 900.0)
    return zk.finish(path, width, height)


def spec(size):
    return zk.zg_task("zg_wicker", "WICKER", "stake counts (x, y) and repetitions of a geometry-nodes weave (ints)",
                    size, PARAMS, build, preset="wicker")


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))
