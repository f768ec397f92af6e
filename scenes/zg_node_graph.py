"""NODE-GRAPH (ZeroGrads Sec. 5.4.3): which of 24 candidate links of a material graph exist.

Eight texture nodes (the sources) and three chains of eight "Add" Mix nodes, one chain per colour
channel (each chain's sum is tinted red, green or blue, and the three are added for an emissive
plane). Candidate link k joins texture k mod 8 to Mix k's B input, which adds it with the factor
``LINK_WEIGHT``. So the connection matrix is 8 sources × 3 channels, every link changes its own
channel by its own pattern, and each of the 24 entries is visible in the picture (measured at 32 px,
16 spp: one wrong link raises the image MSE to at least 4× that of the target re-rendered with
another seed). An orthographic camera looks at
the plane: no lighting noise, the image is the graph's output.

A first version had one chain whose factors doubled every six links (a 4-bit code per texture):
the lowest bits then changed the image by less than its Monte-Carlo noise, and the relaxed problem
was degenerate (any two codes with the same sum looked alike).

    python -m scenes.zg_node_graph [--size ci|full] [--out build/scenes]
"""

import sys

from scenes import task
from scenes import zerograds_kit as zk

MATERIAL = "Graph"
TREE = f'materials["{MATERIAL}"].node_tree'
# (node type, inputs, properties): eight patterns of similar contrast that resemble each other little
# (measured: |cosine| <= 0.2 between any two links' changes to the picture; a Gradient and a Brick
# texture resembled others more, a Noise texture's contrast was too low to see through render noise).
SOURCES = (
    ("ShaderNodeTexChecker", {"Scale": 3.0}, {}),
    ("ShaderNodeTexWave", {"Scale": 2.0}, {}),
    ("ShaderNodeTexWave", {"Scale": 2.0}, {"wave_type": "RINGS"}),
    ("ShaderNodeTexChecker", {"Scale": 7.0}, {}),
    ("ShaderNodeTexVoronoi", {"Scale": 3.0}, {}),
    ("ShaderNodeTexMagic", {"Scale": 2.0}, {}),
    ("ShaderNodeTexVoronoi", {"Scale": 6.0}, {}),
    ("ShaderNodeTexWave", {"Scale": 1.5}, {}),
)
CHANNELS = ((1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0))  # the tint of each chain
LINKS = len(SOURCES) * len(CHANNELS)
LINK_WEIGHT = 0.4


def source_name(i):
    return f"Source{i}"


def mix_name(k):
    return f"Add{k:02d}"


def candidate_params():
    start, target = zk.bits(LINKS, seed=11, share=0.3), zk.bits(LINKS, seed=12)
    return task.check_params(
        [
            task.param(
                f"link{k:02d}",
                TREE,
                -1,
                0.0,
                1.0,
                start[k],
                target[k],
                kind="bool",
                link=(source_name(k % len(SOURCES)), "Color", mix_name(k), "B_Color"),
            )
            for k in range(LINKS)
        ]
    )


def socket(sockets, identifier):
    """A socket by identifier (a Mix node has six inputs named "A"; indexing by name finds the first)."""
    return next(s for s in sockets if s.identifier == identifier)


def build_graph(start_links):
    """The material: sources, the three tinted Add chains, emission; candidate links on where
    ``start_links`` says."""
    import bpy

    mat = bpy.data.materials.new(MATERIAL)
    tree = mat.node_tree
    for node in list(tree.nodes):
        if node.type != "OUTPUT_MATERIAL":
            tree.nodes.remove(node)

    def mix(name, blend_type, factor):
        node = tree.nodes.new("ShaderNodeMix")
        node.name, node.data_type, node.blend_type = name, "RGBA", blend_type
        socket(node.inputs, "Factor_Float").default_value = factor
        socket(node.inputs, "A_Color").default_value = (0.0, 0.0, 0.0, 1.0)
        socket(node.inputs, "B_Color").default_value = (0.0, 0.0, 0.0, 1.0)
        return node

    coords = tree.nodes.new("ShaderNodeTexCoord")
    sources = []
    for i, (kind, inputs, properties) in enumerate(SOURCES):
        node = tree.nodes.new(kind)
        node.name = source_name(i)
        for key, value in inputs.items():
            node.inputs[key].default_value = value
        for key, value in properties.items():
            setattr(node, key, value)
        tree.links.new(coords.outputs["Object"], node.inputs["Vector"])
        sources.append(node)
    total = None
    for c, tint in enumerate(CHANNELS):
        previous = None
        for k in range(c * len(SOURCES), (c + 1) * len(SOURCES)):
            # Linear light adds 2·weight·(B - 0.5): an unlinked B (grey) adds nothing, and a texture
            # adds its pattern about its mean rather than mostly its brightness, which all share.
            add = mix(mix_name(k), "LINEAR_LIGHT", LINK_WEIGHT)
            socket(add.inputs, "B_Color").default_value = (0.5, 0.5, 0.5, 1.0)
            if k == c * len(SOURCES):
                socket(add.inputs, "A_Color").default_value = (0.5, 0.5, 0.5, 1.0)
            if previous is not None:
                tree.links.new(socket(previous.outputs, "Result_Color"), socket(add.inputs, "A_Color"))
            if start_links[k]:
                tree.links.new(sources[k % len(SOURCES)].outputs["Color"], socket(add.inputs, "B_Color"))
            previous = add
        tinted = mix(f"Tint{c}", "MULTIPLY", 1.0)
        socket(tinted.inputs, "B_Color").default_value = tint
        tree.links.new(socket(previous.outputs, "Result_Color"), socket(tinted.inputs, "A_Color"))
        if total is None:
            total = tinted
        else:
            both = mix(f"Sum{c}", "ADD", 1.0)
            tree.links.new(socket(total.outputs, "Result_Color"), socket(both.inputs, "A_Color"))
            tree.links.new(socket(tinted.outputs, "Result_Color"), socket(both.inputs, "B_Color"))
            total = both
    emission = tree.nodes.new("ShaderNodeEmission")
    tree.links.new(socket(total.outputs, "Result_Color"), emission.inputs["Color"])
    output = next(n for n in tree.nodes if n.type == "OUTPUT_MATERIAL")
    tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return mat


def spec(size):
    params = candidate_params()

    def build(path=None):
        from scenes import kit

        kit.empty_scene()
        plane = kit.mesh_object(
            "Canvas", "plane", (0, 0, 0), size=2.0, material=build_graph([int(p.start) for p in params])
        )
        plane.name = "Canvas"
        kit.ortho_top_camera(2.0)
        kit.world((0.0, 0.0, 0.0), 0.0)
        return zk.finish(path)

    return zk.zg_task(
        "zg_node_graph",
        "NODE-GRAPH",
        "which of 24 candidate links of a material graph exist",
        size,
        params,
        build,
        preset="node_graph",
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))
