"""The optimisation setup stored in the .blend: ``Scene.zerograds`` (saved with the file)."""

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from optimizer_server.wire.paramref import LINK_FIELDS, ParamRef
from optimizer_server.wire.space import KINDS

from . import catalog

_KIND_HELP = {
    "float": "Continuous value",
    "int": "Whole number (rounded when applied)",
    "bool": "On/off (rounded when applied); also a link between two node sockets",
    "enum": "One of the property's choices",
}
KIND_ITEMS = [(k, k.title(), _KIND_HELP.get(k, k)) for k in KINDS]


class ZEROGRADS_PG_param(bpy.types.PropertyGroup):
    """One optimised property: where it is and the range the optimiser may use."""

    # `name` is PropertyGroup's built-in StringProperty: the parameter's name.
    data_path: StringProperty(name="Data Path", description='Path from bpy.data, e.g. objects["Ball"].location')
    array_index: IntProperty(name="Index", default=-1, min=-1, description="Array element; -1 for a single value")
    min: FloatProperty(name="Min", default=0.0, description="Lowest value the optimiser may try")
    max: FloatProperty(name="Max", default=1.0, description="Highest value the optimiser may try")
    kind: EnumProperty(name="Kind", items=KIND_ITEMS, default="float", description="Detected from the property")
    enabled: BoolProperty(name="Enabled", default=True, description="Optimise this parameter (off: leave it as it is)")
    # Link parameters (a bool: does the link exist): data_path is the node tree; these name the two sockets.
    is_link: BoolProperty(name="Link", default=False, description="Whether a link between two node sockets exists")
    from_node: StringProperty(name="From Node", description="Name of the node the link starts at")
    from_socket: StringProperty(name="From Socket", description="Its output, by name or identifier")
    to_node: StringProperty(name="To Node", description="Name of the node the link ends at")
    to_socket: StringProperty(name="To Socket", description="Its input, by name or identifier (e.g. A_Color)")
    # Array parameters (one block of many values): data_path is the image or the mesh object.
    array_kind: EnumProperty(
        name="Block",
        items=[
            ("NONE", "Value", "One value of a property"),
            ("IMAGE", "Image", "The pixels of an image (chosen channels)"),
            ("MESH", "Mesh", "The vertices of a mesh object"),
            ("ATTRIBUTE", "Attribute", "A float attribute of a mesh object (read by geometry nodes or a shader)"),
        ],
        default="NONE",
    )
    channels: StringProperty(name="Channels", default="RGB", description="Which of the image's channels, e.g. RGB")
    mesh_mode: EnumProperty(
        name="Mode",
        items=[
            ("normal", "Along Normals", "One offset per vertex along its normal"),
            ("xyz", "X, Y, Z", "Three offsets per vertex"),
        ],
        default="normal",
    )
    vertex_group: StringProperty(name="Vertex Group", description="Only this group's vertices (empty: all)")
    attribute: StringProperty(name="Attribute", description="The name of the mesh's float attribute")
    block_text: StringProperty(name="Size", description="How many values the block holds, e.g. 64×64×3 texels")

    @property
    def is_array(self) -> bool:
        return self.array_kind != "NONE"

    def ref(self) -> ParamRef:
        """This entry as the project's parameter reference (``ConfigError`` when it is not valid)."""
        if self.is_link:
            link = {k: getattr(self, k) for k in LINK_FIELDS}
            return ParamRef(self.name, self.data_path, link=link)
        if self.is_array:
            array = {"kind": "image", "channels": self.channels}
            if self.array_kind == "MESH":
                array = {"kind": "mesh", "mode": self.mesh_mode, "group": self.vertex_group}
            elif self.array_kind == "ATTRIBUTE":
                array = {"kind": "attribute", "attribute": self.attribute}
            return ParamRef(self.name, self.data_path, lo=self.min, hi=self.max, array=array)
        ranged = self.kind in ("float", "int")  # bool and enum ranges are implied by the kind
        lo, hi = (self.min, self.max) if ranged else (None, None)
        return ParamRef(self.name, self.data_path, self.array_index, lo=lo, hi=hi, kind=self.kind)

    def set_ref(self, ref: ParamRef, kind: str, bounds: tuple[float, float]) -> None:
        """Fill this entry from a reference, its detected kind and its default bounds."""
        self.name, self.data_path, self.array_index, self.kind = ref.name, ref.path, ref.index, kind
        self.is_link = ref.link is not None
        if ref.link is not None:
            for key, value in ref.link.to_dict().items():
                setattr(self, key, value)
        self.array_kind = ref.array.kind.upper() if ref.array is not None else "NONE"
        if ref.array is not None and ref.array.kind == "image":
            self.channels = ref.array.channels or "RGB"
        elif ref.array is not None and ref.array.kind == "attribute":
            self.attribute = ref.array.attribute
        elif ref.array is not None:
            self.mesh_mode, self.vertex_group = ref.array.mode, ref.array.group
        self.min = bounds[0] if ref.lo is None else ref.lo
        self.max = bounds[1] if ref.hi is None else ref.hi


def _option_kind(default) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, str):
        return "str"
    return "float"  # floats, and None ("automatic") defaults


class ZEROGRADS_PG_option(bpy.types.PropertyGroup):
    """One option of the chosen method; sent only when `override` is on."""

    kind: StringProperty()
    override: BoolProperty(name="Override", default=False, description="Use this value instead of the method's default")
    float_value: FloatProperty(name="Value", precision=4)
    int_value: IntProperty(name="Value")
    bool_value: BoolProperty(name="Value")
    str_value: StringProperty(name="Value")
    doc: StringProperty()

    def value(self):
        if self.kind == "float":
            return float(f"{self.float_value:.7g}")  # 0.02, not float32's 0.0199999995
        return {"bool": self.bool_value, "int": self.int_value, "str": self.str_value}[self.kind]

    def set_value(self, value) -> None:
        if value is None:
            return
        setattr(
            self, {"bool": "bool_value", "int": "int_value", "str": "str_value"}.get(self.kind, "float_value"), value
        )


_enum_cache = {}  # Blender needs the item strings of dynamic enums kept alive


def _method_items(self, context):
    if "methods" not in _enum_cache:
        _enum_cache["methods"] = [(n, n, catalog.methods()[n]["description"]) for n in catalog.method_names()]
    return _enum_cache["methods"]


def _preset_items(self, context):
    method = self.method
    if method not in _enum_cache:
        presets = catalog.methods().get(method, {}).get("presets", {})
        _enum_cache[method] = [("NONE", "Defaults", "The method's default options")] + [
            (p, p.replace("_", " ").title(), ", ".join(f"{k}={v}" for k, v in values.items()))
            for p, values in presets.items()
        ]
    return _enum_cache[method]


def reset_options(settings) -> None:
    """Fill ``settings.options`` with the chosen method's options at their defaults."""
    settings.options.clear()
    for name, info in catalog.methods().get(settings.method, {}).get("options", {}).items():
        if name == "common_random_numbers":
            continue  # shown as the render seed policy
        item = settings.options.add()
        item.name, item.kind, item.doc = name, _option_kind(info["default"]), info["doc"][:1000]
        item.set_value(info["default"])


_LABELS = {"auto": "Auto (best measured)", "cmaes": "CMA-ES", "prdpt": "PRDPT", "zerograds": "ZeroGrads"}


def configuration_label(name: str) -> str:
    """ "zerograds:efficient" → "ZeroGrads (efficient)": short enough for the sidebar."""
    method, _, preset = name.partition(":")
    label = _LABELS.get(method, method.replace("_", "-").title() if method != "gauss_newton" else "Gauss-Newton")
    return f"{label} ({preset.replace('_', ' ')})" if preset else label


def _configuration_items(self, context):
    if "configurations" not in _enum_cache:
        configs = catalog.configurations()
        _enum_cache["configurations"] = [
            (name, configuration_label(name), configs[name]["description"])
            for name in catalog.featured()
            if name in configs
        ] + [("CUSTOM", "Other…", "Any method and preset (under Advanced)")]
    return _enum_cache["configurations"]


def _on_configuration(self, context):
    """A named configuration sets the method and its preset (the Advanced part shows them)."""
    if self.configuration == "CUSTOM":
        self.show_advanced = True
        return
    config = catalog.configurations()[self.configuration]
    if self.method != config["method"]:
        self.method = config["method"]  # resets the preset and options (_on_method)
    self.preset = config["preset"] or "NONE"


def _on_method(self, context):
    self.preset = "NONE"
    reset_options(self)


def _on_preset(self, context):
    reset_options(self)
    if self.preset != "NONE":
        for name, value in catalog.methods()[self.method]["presets"][self.preset].items():
            item = self.options.get(name)
            if item is not None:
                item.set_value(value)
                item.override = True


class ZEROGRADS_PG_settings(bpy.types.PropertyGroup):
    params: CollectionProperty(type=ZEROGRADS_PG_param)
    params_index: IntProperty(name="Active Parameter")

    target_source: EnumProperty(
        name="Target",
        items=[
            ("FILE", "Image File", "Compare renders with an image file (EXR keeps linear values)"),
            ("CAPTURED", "Captured", "A render of the scene stored by 'Capture Target'"),
        ],
        default="CAPTURED",
    )
    target_file: StringProperty(name="Target Image", subtype="FILE_PATH")
    target_image: PointerProperty(name="Captured Target", type=bpy.types.Image)
    mask_file: StringProperty(
        name="Mask",
        subtype="FILE_PATH",
        description="Optional: only pixels where the mask is non-zero count in the loss",
    )

    configuration: EnumProperty(
        name="Configuration",
        items=_configuration_items,
        update=_on_configuration,
        description="A named configuration of a method (its settings measured or from the papers)",
    )
    method: EnumProperty(name="Method", items=_method_items, update=_on_method)
    preset: EnumProperty(
        name="Preset",
        items=_preset_items,
        update=_on_preset,
        description="Hyperparameters of the paper's runs for a similar task",
    )
    options: CollectionProperty(type=ZEROGRADS_PG_option)
    show_advanced: BoolProperty(name="Advanced", default=False, description="Show the seed and the method's options")
    show_param_details: BoolProperty(name="Details", default=False, description="Name, data path, index, kind")
    budget: IntProperty(name="Budget", default=400, min=1, description="Renders the optimisation may use in total")
    seed: IntProperty(name="Seed", default=0, min=0, description="Seed of the optimiser's random numbers")

    width: IntProperty(name="Width", default=64, min=4, max=4096, description="Render width while optimising")
    height: IntProperty(name="Height", default=64, min=4, max=4096, description="Render height while optimising")
    samples: IntProperty(name="Samples", default=16, min=1, max=65536, description="Cycles samples per render")
    seed_policy: EnumProperty(
        name="Noise Seed",
        items=[
            (
                "SHARED",
                "Shared per Iteration",
                "All renders of one iteration use the same noise seed (common random "
                "numbers: differences come from the parameters, not from noise)",
            ),
            ("FRESH", "Fresh per Render", "Every render gets its own noise seed"),
        ],
        default="SHARED",
    )
    use_physics_frame: BoolProperty(
        name="Simulate to Frame",
        default=False,
        description="Step rigid bodies / simulations from the first frame and render this frame",
    )
    physics_frame: IntProperty(name="Frame", default=1, min=0)
    workers: IntProperty(name="Workers", default=1, min=1, max=64, description="Headless render processes")
    worker_threads: IntProperty(
        name="Threads",
        default=0,
        min=0,
        max=1024,
        description="Cycles threads per worker; 0: every core but one, which stays with Blender's UI",
    )

    server_mode: EnumProperty(
        name="Server",
        items=[
            ("LOCAL", "Local", "Start an optimizer server on this computer"),
            ("REMOTE", "Address", "Connect to a running server"),
        ],
        default="LOCAL",
    )
    server_address: StringProperty(name="Address", default="tcp://127.0.0.1:5555")


class ZEROGRADS_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__  # the add-on's package: "blender_addon", or bl_ext.<repo>.<id> as an extension

    server_python: StringProperty(
        name="Server Python",
        subtype="FILE_PATH",
        description="Advanced, optional: a Python with torch to run the optimizer server instead of the one the "
        "add-on sets up for you (empty: $ZEROGRADS_PYTHON, else the managed environment)",
    )
    keep_run_folders: BoolProperty(
        name="Keep Run Folders",
        default=False,
        description="Keep each run's folder (scene copy, server and worker logs) in the temporary directory",
    )
    show_advanced: BoolProperty(name="Advanced", default=False)

    def draw(self, context):
        from . import local_server

        layout = self.layout
        python = local_server.managed_python()
        layout.label(text=f"Optimizer environment: {python or 'not set up yet (the Optimize panel offers it)'}")
        if local_server.managed_env_folder():
            layout.label(text=f"Folder: {local_server.managed_env_folder()}")
        layout.prop(self, "keep_run_folders")
        layout.prop(self, "show_advanced", icon="TRIA_DOWN" if self.show_advanced else "TRIA_RIGHT")
        if self.show_advanced:
            layout.prop(self, "server_python")


classes = (ZEROGRADS_PG_param, ZEROGRADS_PG_option, ZEROGRADS_PG_settings, ZEROGRADS_AP_preferences)


def register_properties() -> None:
    bpy.types.Scene.zerograds = PointerProperty(type=ZEROGRADS_PG_settings)


def unregister_properties() -> None:
    if hasattr(bpy.types.Scene, "zerograds"):
        del bpy.types.Scene.zerograds
