"""BRDF (ZeroGrads Sec. 5.4.3): albedo RGB and IOR of a dielectric test ball under an environment.

The environment is procedural (a coloured noise sky, no image files in the repository), so that
the ball's reflections and refractions change with the IOR.

    python -m scenes.zg_brdf [--size ci|full] [--out build/scenes]
"""

import sys

from scenes import task
from scenes import zerograds_kit as zk

INPUTS = 'materials["Ball"].node_tree.nodes["Principled BSDF"].inputs'
PARAMS = task.check_params(
    [
        task.param("albedo_r", INPUTS + '["Base Color"].default_value', 0, 0.0, 1.0, 0.2, 0.9),
        task.param("albedo_g", INPUTS + '["Base Color"].default_value', 1, 0.0, 1.0, 0.7, 0.3),
        task.param("albedo_b", INPUTS + '["Base Color"].default_value', 2, 0.0, 1.0, 0.2, 0.1),
        task.param("ior", INPUTS + '["IOR"].default_value', -1, 1.0, 2.0, 1.2, 1.7),
    ]
)


def environment():
    """World: a noise texture through a two-colour ramp (a procedural environment map)."""
    import bpy

    from scenes import kit

    world = kit.world((0.0, 0.0, 0.0), 1.5)
    tree = world.node_tree
    noise = tree.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = 2.5
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (0.05, 0.1, 0.4, 1.0)
    ramp.color_ramp.elements[1].color = (1.0, 0.8, 0.5, 1.0)
    tree.links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    tree.links.new(ramp.outputs["Color"], tree.nodes["Background"].inputs["Color"])
    return bpy.data.worlds[world.name]


def build(path=None, width=32, height=32):
    from scenes import kit

    kit.empty_scene()
    kit.camera((0.0, -3.2, 0.9), target=(0.0, 0.0, 0.5), lens=45)
    environment()
    mat = kit.principled("Ball", (PARAMS[0].start, PARAMS[1].start, PARAMS[2].start))
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["IOR"].default_value = PARAMS[3].start
    bsdf.inputs["Transmission Weight"].default_value = 0.6  # a dielectric: albedo tints, IOR bends
    bsdf.inputs["Roughness"].default_value = 0.15
    kit.mesh_object("Ball", "sphere", (0.0, 0.0, 0.5), size=1.0, material=mat)
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=8, material=kit.principled("Floor", (0.4, 0.4, 0.4)))
    return zk.finish(path, width, height)


def spec(size):
    return zk.zg_task(
        "zg_brdf",
        "BRDF",
        "albedo RGB and IOR of a dielectric ball under an environment",
        size,
        PARAMS,
        build,
        preset="brdf",
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))
