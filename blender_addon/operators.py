"""Operators for the parameter list and the target. Thin: gather input, call api, report errors."""

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty

from . import api, lookup, params
from ._deps import ZeroGradsError
from .datapath import DataPathError


def _relative_path(struct, identifier: str) -> str:
    """Path of ``struct.identifier`` from its ID (RNA property or ID property)."""
    if identifier.startswith("["):
        base = "" if struct == struct.id_data else struct.path_from_id()
        return base + identifier
    if identifier in struct.bl_rna.properties:
        return struct.path_from_id(identifier)
    base = "" if struct == struct.id_data else struct.path_from_id()  # an ID property
    return f'{base}["{identifier}"]'


def _join(owner, relative: str) -> str:
    return lookup.path_for_id(owner.id_data) + ("" if relative.startswith("[") else ".") + relative


def _copied_full_path(context) -> str | None:
    """The button's full data path, element index included, as Blender's own "Copy Full Data
    Path" makes it (Blender 3.x gives Python no other way to learn which array element was
    clicked). The clipboard is given back."""
    wm = context.window_manager
    saved = wm.clipboard
    wm.clipboard = ""
    try:
        if bpy.ops.ui.copy_data_path_button.poll() and "FINISHED" in bpy.ops.ui.copy_data_path_button(full_path=True):
            return wm.clipboard or None
    except (RuntimeError, TypeError):  # no button under the mouse, or an older signature
        return None
    finally:
        wm.clipboard = saved
    return None


def _button_path(context):
    """(full data path, array index) of the property whose right-click menu ran us, or (None, reason).

    Blender 4.x gives ``context.property`` = (owner, path, index); older Blenders give the button's
    struct and property (``button_pointer`` / ``button_prop``) and, through "Copy Full Data Path",
    the element clicked.
    """
    info = getattr(context, "property", None)
    if isinstance(info, tuple) and len(info) == 3 and isinstance(info[1], str):
        owner, path, index = info
        if owner is not None and getattr(owner, "id_data", None) is not None:
            relative = path if owner == owner.id_data else _relative_path(owner, path)
            return _join(owner, relative), index
    pointer = getattr(context, "button_pointer", None)
    prop = getattr(context, "button_prop", None)
    if pointer is None or prop is None or getattr(pointer, "id_data", None) is None:
        return None, "no property under the mouse: right-click a property, or give its data path"
    full = _copied_full_path(context)
    if full:
        return full, -1  # an element index, if any, ends the path ("location[1]")
    return _join(pointer, _relative_path(pointer, prop.identifier)), -1


def _clipboard_path(context) -> str:
    """A data path the artist copied (Ctrl+Shift+Alt+C over a field), for the + dialog."""
    text = (context.window_manager.clipboard or "").strip()
    return text if text.startswith("bpy.data.") and "\n" not in text and len(text) < 1000 else ""


class ZEROGRADS_OT_add_param(bpy.types.Operator):
    """Add this property to the optimisation (its kind and range are read from the property)"""

    bl_idname = "zerograds.add_param"
    bl_label = "Add to Optimization"
    bl_options = {"REGISTER", "UNDO"}

    data_path: StringProperty(
        name="Data Path",
        description='From bpy.data, e.g. objects["Ball"].location; empty: the property under the mouse. '
        "Tip: Ctrl+Shift+Alt+C over any field copies its full data path",
    )
    array_index: IntProperty(name="Index", default=-1, min=-1, description="Array element; -1: all of them")
    all_elements: BoolProperty(name="All Elements", default=False, description="Add every element of an array")

    def invoke(self, context, event):
        if self.data_path or getattr(context, "button_prop", None) is not None or getattr(context, "property", None):
            return self.execute(context)
        self.data_path = _clipboard_path(context)  # the panel's +: ask for a path (pre-filled from the clipboard)
        return context.window_manager.invoke_props_dialog(self, width=460)

    def execute(self, context):
        path, index = self.data_path, self.array_index
        if not path:
            path, index_or_reason = _button_path(context)
            if path is None:
                self.report({"ERROR"}, index_or_reason)
                return {"CANCELLED"}
            index = index_or_reason if self.array_index < 0 else self.array_index
        try:
            added = _add(context.scene, path, index, self.all_elements)
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.data_path = ""  # a redo starts from the button again, not from this path
        self.report({"INFO"}, "Optimising " + ", ".join(p.name for p in added))
        return {"FINISHED"}


def _add(scene, path: str, index: int, all_elements: bool) -> list:
    """Add one element (the one clicked), or every element of an array (All, or no element known)."""
    binding = params.resolve(path, index) if index >= 0 or not _is_array(path) else None
    if binding is not None and not all_elements:
        return [api.add_param(scene, binding.path, binding.index)]
    base = binding.path if binding is not None else path
    length = api.array_length(base)
    indices = range(length) if length else [-1]
    return [api.add_param(scene, base, i) for i in indices]


def _is_array(path: str) -> bool:
    try:
        params.resolve(path, -1)
        return False
    except DataPathError as exc:
        if "is an array of" in str(exc):
            return True
        raise


def _active_material_tree_path(context) -> str:
    obj = getattr(context, "object", None)
    mat = getattr(obj, "active_material", None) if obj is not None else None
    return lookup.path_for_id(mat.node_tree) if mat is not None and mat.node_tree is not None else ""


class ZEROGRADS_OT_add_link_param(bpy.types.Operator):
    """Optimise whether a link between two node sockets exists (on/off)"""

    bl_idname = "zerograds.add_link_param"
    bl_label = "Add Link Parameter"
    bl_options = {"REGISTER", "UNDO"}

    tree_path: StringProperty(
        name="Node Tree",
        description='Data path of the node tree, e.g. materials["Mat"].node_tree (default: active material)',
    )
    from_node: StringProperty(name="From Node", description="Node name (not its label)")
    from_socket: StringProperty(name="From Socket", description="Output name or identifier")
    to_node: StringProperty(name="To Node", description="Node name (not its label)")
    to_socket: StringProperty(name="To Socket", description="Input name or identifier (e.g. A_Color)")

    def invoke(self, context, event):
        if not self.tree_path:
            self.tree_path = _active_material_tree_path(context)
        return context.window_manager.invoke_props_dialog(self, width=420)

    def execute(self, context):
        try:
            item = api.add_link_param(
                context.scene, self.tree_path, self.from_node, self.from_socket, self.to_node, self.to_socket
            )
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Optimising {item.name}")
        return {"FINISHED"}


class ZEROGRADS_OT_remove_param(bpy.types.Operator):
    """Remove the selected parameter from the optimisation"""

    bl_idname = "zerograds.remove_param"
    bl_label = "Remove Parameter"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return len(context.scene.zerograds.params) > 0

    def execute(self, context):
        settings = context.scene.zerograds
        settings.params.remove(settings.params_index)
        settings.params_index = max(0, min(settings.params_index, len(settings.params) - 1))
        return {"FINISHED"}


class ZEROGRADS_OT_reset_options(bpy.types.Operator):
    """Show the chosen method's options at their defaults"""

    bl_idname = "zerograds.reset_options"
    bl_label = "Reset Method Options"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .props import reset_options

        reset_options(context.scene.zerograds)
        return {"FINISHED"}


class ZEROGRADS_OT_capture_target(bpy.types.Operator):
    """Render the scene now (optimisation resolution and samples) and keep it as the target image"""

    bl_idname = "zerograds.capture_target"
    bl_label = "Capture Target"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from . import targets

        try:
            image = targets.capture(context.scene)
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Target captured: {image.size[0]}×{image.size[1]}, stored in the .blend")
        return {"FINISHED"}


def draw_button_menu(self, context):
    """Entry in the right-click menu of every property button (like 'Add to Keying Set')."""
    if getattr(context, "button_prop", None) is None and not getattr(context, "property", None):
        return
    layout = self.layout
    layout.separator()
    layout.operator(ZEROGRADS_OT_add_param.bl_idname, icon="DRIVER_DISTANCE")
    op = layout.operator(ZEROGRADS_OT_add_param.bl_idname, text="Add All to Optimization")
    op.all_elements = True


classes = (
    ZEROGRADS_OT_add_param,
    ZEROGRADS_OT_add_link_param,
    ZEROGRADS_OT_remove_param,
    ZEROGRADS_OT_reset_options,
    ZEROGRADS_OT_capture_target,
)
