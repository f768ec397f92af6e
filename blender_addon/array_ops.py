"""Right-click › Add to Optimization on an Image Texture node (its image's pixels) and on a mesh object
(its vertices), and an "Add to Optimization" button under a mesh's Attributes list (the active float
attribute): one row each in the parameter list ("Albedo: 64×64×3 texels"). Thin: ``api`` does it."""

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


def _float_attribute(context):
    """The active float attribute of the Properties editor's mesh (or the active object's)."""
    obj = getattr(context, "object", None) or _mesh_object(context)
    if obj is None or obj.type != "MESH":
        return None, None
    attribute = obj.data.attributes.active
    if attribute is None or attribute.data_type != "FLOAT":
        return obj, None
    return obj, attribute


class ZEROGRADS_OT_add_array_param(bpy.types.Operator):
    """Optimise a whole block of values: the image's pixels, the mesh's vertices, or one of its float
    attributes"""

    bl_idname = "zerograds.add_array_param"
    bl_label = "Add to Optimization"
    bl_options = {"REGISTER", "UNDO"}

    kind: EnumProperty(
        name="Block",
        items=[
            ("image", "Image Pixels", "The image's pixels"),
            ("mesh", "Mesh Vertices", "The mesh's vertices"),
            ("attribute", "Mesh Attribute", "A float attribute of the mesh (one value per point, edge, face...)"),
        ],
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
    attribute: StringProperty(name="Attribute", description="The float attribute's name; empty: the active one")

    def execute(self, context):
        path, attribute = self.data_path, self.attribute
        if self.kind == "attribute" and not (path and attribute):
            obj, active = _float_attribute(context)
            if obj is None or (not attribute and active is None):
                self.report({"ERROR"}, "select a mesh object and a Float attribute in Object Data › Attributes first")
                return {"CANCELLED"}
            path, attribute = path or lookup.path_for_id(obj), attribute or active.name
        if not path:
            found = _node_image(context) if self.kind == "image" else _mesh_object(context)
            if found is None:
                what = "an Image Texture node with an image" if self.kind == "image" else "a mesh object"
                self.report({"ERROR"}, f"select {what} first")
                return {"CANCELLED"}
            path = lookup.path_for_id(found)
        try:
            item = api.add_array_param(
                context.scene, path, self.kind, self.channels, self.mode, self.group, attribute=attribute
            )
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


def draw_attributes_panel(self, context):
    """Under the Attributes list of a mesh's Object Data properties, for the active float attribute."""
    _, attribute = _float_attribute(context)
    if attribute is not None:
        op = self.layout.operator(ZEROGRADS_OT_add_array_param.bl_idname, icon="DRIVER_DISTANCE")
        op.kind, op.data_path, op.attribute = "attribute", "", attribute.name


MENUS = (
    ("NODE_MT_context_menu", draw_node_menu),
    ("VIEW3D_MT_object_context_menu", draw_object_menu),
    ("DATA_PT_mesh_attributes", draw_attributes_panel),
)

classes = (ZEROGRADS_OT_add_array_param,)
