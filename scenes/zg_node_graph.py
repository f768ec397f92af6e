"""NODE-GRAPH (ZeroGrads Sec. 5.4.3): which of 24 candidate links of a material graph exist.

Six texture nodes (the sources) and a chain of 24 "Add" Mix nodes (colour A comes down the
chain). Candidate link k joins texture k mod 6 to Mix k's B input; Mix k adds its B with the
factor 0.05·2^(k div 6), so every source's on/off links sum to a distinct brightness (a 4-bit
code per texture) and the connection matrix is identifiable from the picture. An orthographic
camera looks at an emissive plane: no lighting noise, the image is the graph's output.

    python scenes/zg_node_graph.py [--size ci|full] [--out build/scenes]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scenes import task, zerograds_kit as zk  # noqa: E402

MATERIAL = "Graph"
TREE = f'materials["{MATERIAL}"].node_tree'
SOURCES = (("ShaderNodeTexChecker", {"Scale": 3.0}), ("ShaderNodeTexWave", {"Scale": 2.0}),
           ("ShaderNodeTexGradient", {}), ("ShaderNodeTexNoise", {"Scale": 4.0}),
           ("ShaderNodeTexVoronoi", {"Scale": 3.0}), ("ShaderNodeTexMagic", {"Scale": 2.0}))
LINKS = 24


def source_name(i):
    return f"Source{i}"


def mix_name(k):
    return f"Add{k:02d}"


def candidate_params():
    start, target = zk.bits(LINKS, seed=11, share=0.3), zk.bits(LINKS, seed=12)
    return task.check_params([
        task.Param(f"link{k:02d}", TREE, -1, 0.0, 1.0, start[k], target[k], kind="link",
                   link=(source_name(k % len(SOURCES)), "Color", mix_name(k), "B_Color"))
        for k in range(LINKS)])


def socket(sockets, identifier):
    """A socket by identifier (a Mix node has six inputs named "A"; indexing by name finds the first)."""
    return next(s for s in sockets if s.identifier == identifier)


def build_graph(start_links):
    """The material: sources, the Add chain, emission; candidate links on where ``start_links`` says."""
    import bpy
    mat = bpy.data.materials.new(MATERIAL)
    tree = mat.node_tree
    for node in list(tree.nodes):
        if node.type != "OUTPUT_MATERIAL":
            tree.nodes.remove(node)
    coords = tree.nodes.new("ShaderNodeTexCoord")
    sources = []
    for i, (kind, inputs) in enumerate(SOURCES):
        node = tree.nodes.new(kind)
        node.name = source_name(i)
        for key, value in inputs.items():
            node.inputs[key].default_value = value
        tree.links.new(coords.outputs["Object"], node.inputs["Vector"])
        sources.append(node)
    previous = None
    for k in range(LINKS):
        mix = tree.nodes.new("ShaderNodeMix")
        mix.name, mix.data_type, mix.blend_type = mix_name(k), "RGBA", "ADD"
        socket(mix.inputs, "Factor_Float").default_value = 0.05 * 2 ** (k // len(SOURCES))
        socket(mix.inputs, "A_Color").default_value = (0.0, 0.0, 0.0, 1.0)
        socket(mix.inputs, "B_Color").default_value = (0.0, 0.0, 0.0, 1.0)
        if previous is not None:
            tree.links.new(socket(previous.outputs, "Result_Color"), socket(mix.inputs, "A_Color"))
        if start_links[k]:
            tree.links.new(sources[k % len(SOURCES)].outputs["Color"], socket(mix.inputs, "B_Color"))
        previous = mix
    emission = tree.nodes.new("ShaderNodeEmission")
    tree.links.new(socket(previous.outputs, "Result_Color"), emission.inputs["Color"])
    output = next(n for n in tree.nodes if n.type == "OUTPUT_MATERIAL")
    tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return mat


def spec(size):
    params = candidate_params()

    def build(path=None):
        from scenes import kit
        kit.empty_scene()
        plane = kit.mesh_object("Canvas", "plane", (0, 0, 0), size=2.0, material=build_graph(
            [int(p.start) for p in params]))
        plane.name = "Canvas"
        kit.ortho_top_camera(2.0)
        kit.world((0.0, 0.0, 0.0), 0.0)
        return zk.finish(path)

    return zk.zg_task("zg_node_graph", "NODE-GRAPH", "which of 24 candidate links of a material graph exist",
                    size, params, build, preset="node_graph")


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))
