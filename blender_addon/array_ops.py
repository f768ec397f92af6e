"""Right-click › Add to Optimization on an Image Texture node (its image's pixels) and on a mesh object
(its vertices): one row each in the parameter list ("Albedo: 64×64×3 texels"). Thin: ``api`` does it."""

import bpy
from bpy.props import EnumProperty, StringProperty

from . import api, lookup
from ._deps import ZeroGradsError


def _node_image(context):
    node = getattr(context, "active_node", None)
    image = getattr(node, "image", None) if node is not None and node.type == "TEX_IMAGE" else None
    return image


def _mesh_object(context):
    obj = getattr(context, "active_object", None)
    return obj if obj is not None and obj.type == "MESH" else None


class ZEROGRADS_OT_add_array_param(bpy.types.Operator):
    """Optimise a whole block of values: the image's pixels, or the mesh's vertices"""

    bl_idname = "zerograds.add_array_param"
    bl_label = "Add to Optimization"
    bl_options = {"REGISTER", "UNDO"}

    kind: EnumProperty(
        name="Block",
        items=[("image", "Image Pixels", "The image's pixels"), ("mesh", "Mesh Vertices", "The mesh's vertices")],
    )
    data_path: StringProperty(
        name="Data Path", description='images["Albedo"] or objects["Ball"]; empty: the active node or object'
    )
    channels: StringProperty(name="Channels", default="RGB", description="Which of the image's channels")
    mode: EnumProperty(
        name="Mode",
        items=[("normal", "Along Normals", "One offset per vertex"), ("xyz", "X, Y, Z", "Three offsets per vertex")],
    )
    group: StringProperty(name="Vertex Group", description="Only this group's vertices (empty: all of them)")

    def execute(self, context):
        path = self.data_path
        if not path:
            found = _node_image(context) if self.kind == "image" else _mesh_object(context)
            if found is None:
                what = "an Image Texture node with an image" if self.kind == "image" else "a mesh object"
                self.report({"ERROR"}, f"select {what} first")
                return {"CANCELLED"}
            path = lookup.path_for_id(found)
        try:
            item = api.add_array_param(context.scene, path, self.kind, self.channels, self.mode, self.group)
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Optimising {item.name}: {item.block_text}")
        return {"FINISHED"}


def draw_node_menu(self, context):
    """In the node editor's right-click menu, on an Image Texture node that has an image."""
    if _node_image(context) is not None:
        self.layout.separator()
        op = self.layout.operator(ZEROGRADS_OT_add_array_param.bl_idname, icon="DRIVER_DISTANCE")
        op.kind, op.data_path = "image", ""


def draw_object_menu(self, context):
    """In the 3D View's object right-click menu, on a mesh object."""
    if _mesh_object(context) is not None:
        self.layout.separator()
        op = self.layout.operator(ZEROGRADS_OT_add_array_param.bl_idname, icon="DRIVER_DISTANCE")
        op.kind, op.data_path = "mesh", ""


MENUS = (("NODE_MT_context_menu", draw_node_menu), ("VIEW3D_MT_object_context_menu", draw_object_menu))

classes = (ZEROGRADS_OT_add_array_param,)
