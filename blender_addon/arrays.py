"""Array parameters: an Image datablock's pixels, a mesh object's vertices or one of its named float
attributes as one block of values.

A :class:`~optimizer_server.wire.paramref.ParamRef` with an ``array`` resolves here to an
:class:`ImageBinding`, a :class:`MeshBinding` or an :class:`AttributeBinding`. They quack like
``params.Binding`` (``get_raw``/``set_raw`` for exact snapshots, ``read``/``write`` in parameter units,
``default_bounds``) but hold ``size`` values in the block's ``shape``, and their ``spec`` carries that
layout (and a mesh's edges) to the optimiser. Writes are one ``foreach_set`` and one update.

What Cycles needs to see a write with persistent data (measured, ``benchmarks/bench_render.py``):
* a mesh, its vertices or a float attribute (read by a shader's Attribute node or by geometry nodes):
  ``mesh.update()`` is enough;
* an image: nothing short of a new image key makes Cycles reload pixels it already holds (tagging the
  image, its material or the scene does not), so before each write a render worker flips the image's
  ``alpha_mode`` between Straight and Premultiplied, which Cycles loads identically for float images.
  Cycles reads a packed image from Blender's memory but would reload it on that flip, so a render
  worker writes into a float copy of it (``prepare_for_render``; the original gets its users back at the
  end). An image that is neither generated nor packed Cycles reads from its file: refused.
"""

from __future__ import annotations

import math

import bpy
import numpy as np

from optimizer_server.wire.paramref import ParamRef
from optimizer_server.wire.space import ParamSpec

from . import lookup
from .datapath import DataPathError

_TOGGLE = {"STRAIGHT": "PREMUL", "PREMUL": "STRAIGHT"}


class ArrayBinding:
    """What image and mesh blocks share: a flat block of ``size`` float values in ``shape``."""

    kind = "float"
    index = -1
    choices = None
    tag_id = None
    is_array = True
    shape: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def to_raw(self, values) -> np.ndarray:
        """Parameter units (flat) → the block's values in its shape (what a job file or result names)."""
        return np.asarray(values, dtype=np.float64).reshape(self.shape)

    def check(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size != self.size:
            raise DataPathError(f"{self.path}: got {values.size} values for a block of {self.size} {self.shape}")
        return values

    def spec(self, ref: ParamRef) -> ParamSpec:
        lo, hi = self.default_bounds()
        lo, hi = (lo if ref.lo is None else ref.lo), (hi if ref.hi is None else ref.hi)
        return ParamSpec(ref.name, lo, hi, shape=self.shape, edges=self.edges())

    def edges(self):
        return None

    def prepare_for_render(self) -> None:
        """Make every write reach Cycles' persistent data (a render worker calls it once per job)."""

    def release(self) -> None:
        """Undo ``prepare_for_render``."""


# --- images --------------------------------------------------------------------------------------------
def _image_problem(image) -> str | None:
    """Why Cycles would not render what we write into ``image``, or None."""
    if image.source == "FILE" and image.packed_file is None:
        return (
            "Cycles reads this image from its file, so values written into it would never reach a render; "
            "pack it into the .blend (Image editor › Image › Pack) or use a generated float image"
        )
    if image.source not in ("GENERATED", "FILE"):
        return f"it is a {image.source.lower()} image; only a still image (generated or packed) can be optimised"
    if tuple(image.size) == (0, 0) or len(image.pixels) == 0:
        return "its pixels cannot be loaded (a missing or unreadable file)"
    if not image.is_float:
        return (
            "it stores 8-bit pixels, which would round every value written to 1/255; use a 32-bit float image "
            "(Image › New with 32-bit Float, or save it as OpenEXR and reload)"
        )
    if image.channels != 4:
        return f"it has {image.channels} channels; an image parameter needs an RGBA float image"
    return None


class ImageBinding(ArrayBinding):
    """The pixels of an Image datablock: (H, W, C) values, rows top-down, the chosen channels last."""

    def __init__(self, path: str, image, channels: str):
        problem = _image_problem(image)
        if problem:
            raise DataPathError(f"{path!r}: image {image.name!r} cannot be a parameter: {problem}")
        self.path, self.image, self.target = path, image, image
        self.channels = channels or "RGB"
        self.channel_index = ["RGBA".index(c) for c in self.channels]
        width, height = image.size
        self.shape = (int(height), int(width), len(self.channels))
        self._buffer = self.get_raw()  # the channels outside the block keep these values
        self._proxy = None

    def __repr__(self):
        return f"<ImageBinding {self.path} {self.shape}>"

    def get_raw(self) -> np.ndarray:
        buf = np.empty(len(self.target.pixels), dtype=np.float32)
        self.target.pixels.foreach_get(buf)
        return buf

    def set_raw(self, raw) -> None:
        self._put(np.asarray(raw, dtype=np.float32))

    def _put(self, buf: np.ndarray) -> None:
        if self._proxy is not None:  # a new image key, so that Cycles' persistent data reloads the pixels
            self._proxy.alpha_mode = _TOGGLE.get(self._proxy.alpha_mode, "STRAIGHT")
        self.target.pixels.foreach_set(buf)
        self.target.update()
        if self._proxy is not None:
            self._proxy.update_tag()  # Blender tags nothing for a generated image's alpha mode

    def _texels(self, buf: np.ndarray) -> np.ndarray:
        """The (H, W, 4) view of a pixel buffer, rows top-down (Blender stores them bottom-up)."""
        h, w, _ = self.shape
        return buf.reshape(h, w, 4)[::-1]

    def read(self) -> np.ndarray:
        return self._texels(self.get_raw())[:, :, self.channel_index].astype(np.float64).reshape(-1)

    def write(self, values) -> None:
        values = self.check(values)
        self._texels(self._buffer)[:, :, self.channel_index] = values.reshape(self.shape)
        self._put(self._buffer)

    def default_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0

    def keep(self) -> None:
        """Pack the pixels written, so that saving the .blend keeps them (a generated image's or a
        packed image's new pixels are otherwise lost on save)."""
        self.image.pack()

    def prepare_for_render(self) -> None:
        if self._proxy is not None:
            return
        if self.image.source == "GENERATED":
            self._proxy = self.image
            self.image.alpha_mode = "STRAIGHT" if self.image.alpha_mode not in _TOGGLE else self.image.alpha_mode
            return
        h, w, _ = self.shape
        proxy = bpy.data.images.new(f"{self.image.name} (ZeroGrads)", w, h, alpha=True, float_buffer=True)
        proxy.colorspace_settings.name = self.image.colorspace_settings.name
        proxy.alpha_mode = "STRAIGHT"
        self.image.user_remap(proxy)  # every texture node (materials, worlds, groups) now reads the copy
        self.target, self._proxy = proxy, proxy
        self._put(self._buffer)

    def release(self) -> None:
        if self._proxy is not None and self._proxy is not self.image:
            self._proxy.user_remap(self.image)
            bpy.data.images.remove(self._proxy)
        self.target, self._proxy = self.image, None


# --- meshes --------------------------------------------------------------------------------------------
def _mesh_problem(obj) -> str | None:
    if obj.type != "MESH":
        return f"it is a {obj.type.lower()} object; a mesh parameter needs a mesh object"
    if obj.mode == "EDIT":
        return "it is in Edit Mode, which would overwrite the values; leave Edit Mode first"
    if obj.data.shape_keys is not None:
        return "its mesh has shape keys, which override vertex positions; apply or remove them"
    if obj.modifiers:
        evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        count = len(evaluated.to_mesh().vertices)
        evaluated.to_mesh_clear()
        if count != len(obj.data.vertices):
            names = ", ".join(repr(m.name) for m in obj.modifiers)
            return (
                f"its modifiers ({names}) change the vertex count from {len(obj.data.vertices):,} to {count:,}, so "
                "the rendered vertices are not the optimised ones; apply the modifiers or disable those that "
                "add or remove vertices"
            )
    return None


class MeshBinding(ArrayBinding):
    """A mesh object's vertices: offsets from their rest positions, along the rest normals (``normal``:
    shape (V,)) or in x, y, z (``xyz``: (V, 3)); only a vertex group's vertices when one is named."""

    def __init__(self, path: str, obj, mode: str, group: str):
        problem = _mesh_problem(obj)
        if problem:
            raise DataPathError(f"{path!r}: object {obj.name!r} cannot be a parameter: {problem}")
        self.path, self.obj, self.mesh, self.mode = path, obj, obj.data, mode
        count = len(self.mesh.vertices)
        self.vertices = _group_vertices(obj, group, path) if group else np.arange(count)
        self.rest = self.get_raw().reshape(-1, 3).astype(np.float64)
        self.normals = _vertex_normals(self.mesh).astype(np.float64)
        self.shape = (len(self.vertices),) if mode == "normal" else (len(self.vertices), 3)

    def __repr__(self):
        return f"<MeshBinding {self.path} {self.mode} {self.shape}>"

    def adopt_rest(self, other: MeshBinding) -> None:
        """Offsets count from ``other``'s rest shape (the one the run started from), not the current one."""
        if other.rest.shape == self.rest.shape:
            self.rest, self.normals = other.rest, other.normals

    def get_raw(self) -> np.ndarray:
        buf = np.empty(3 * len(self.mesh.vertices), dtype=np.float32)
        self.mesh.vertices.foreach_get("co", buf)
        return buf

    def set_raw(self, raw) -> None:
        self.mesh.vertices.foreach_set("co", np.asarray(raw, dtype=np.float32))
        self.mesh.update()

    def positions(self, values) -> np.ndarray:
        """(V, 3) float32 vertex positions for a block's values (rest + offsets)."""
        values = self.check(values)
        co = self.rest.copy()
        if self.mode == "normal":
            co[self.vertices] += values[:, None] * self.normals[self.vertices]
        else:
            co[self.vertices] += values.reshape(-1, 3)
        return co.astype(np.float32)

    def read(self) -> np.ndarray:
        offsets = self.get_raw().reshape(-1, 3).astype(np.float64)[self.vertices] - self.rest[self.vertices]
        if self.mode == "normal":
            return np.sum(offsets * self.normals[self.vertices], axis=1)
        return offsets.reshape(-1)

    def write(self, values) -> None:
        self.set_raw(self.positions(values).reshape(-1))

    def default_bounds(self) -> tuple[float, float]:
        """±10 % of the mesh's radius around its rest shape."""
        radius = float(np.max(np.linalg.norm(self.rest - self.rest.mean(axis=0), axis=1))) if len(self.rest) else 1.0
        half = 0.1 * (radius if radius > 0 and math.isfinite(radius) else 1.0)
        return -half, half

    def edges(self):
        """The mesh's edges between the block's vertices, in block order (None when there are none)."""
        position = np.full(len(self.mesh.vertices), -1, dtype=np.int64)
        position[self.vertices] = np.arange(len(self.vertices))
        pairs = position[_edge_pairs(self.mesh)]
        pairs = pairs[(pairs >= 0).all(axis=1)]
        return tuple(pairs.reshape(-1).tolist()) if len(pairs) else None


def _edge_pairs(mesh) -> np.ndarray:
    """(E, 2) the vertex indices of a mesh's edges."""
    pairs = np.empty(2 * len(mesh.edges), dtype=np.int64)
    mesh.edges.foreach_get("vertices", pairs)
    return pairs.reshape(-1, 2)


def _vertex_normals(mesh) -> np.ndarray:
    normals = np.empty(3 * len(mesh.vertices), dtype=np.float32)
    if hasattr(mesh, "vertex_normals"):  # Blender 3.1+
        mesh.vertex_normals.foreach_get("vector", normals)
    else:
        mesh.vertices.foreach_get("normal", normals)
    return normals.reshape(-1, 3)


def _group_vertices(obj, group: str, path: str) -> np.ndarray:
    vg = obj.vertex_groups.get(group)
    if vg is None:
        names = [g.name for g in obj.vertex_groups]
        raise DataPathError(
            f"{path!r}: object {obj.name!r} has no vertex group {group!r}{lookup.names_hint(names, group)}"
        )
    members = [v.index for v in obj.data.vertices if any(g.group == vg.index and g.weight > 0 for g in v.groups)]
    if not members:
        raise DataPathError(f"{path!r}: vertex group {group!r} of {obj.name!r} has no vertices")
    return np.array(members, dtype=np.int64)


# --- named float attributes ------------------------------------------------------------------------------
class AttributeBinding(ArrayBinding):
    """A mesh object's float attribute: one value per element of its domain (points, edges, faces or
    face corners), written as they are (not as offsets). Modifiers may change the geometry freely:
    geometry nodes read the attribute from the original mesh, which is what is written."""

    def __init__(self, path: str, obj, name: str):
        problem = _attribute_problem(obj, name)
        if problem:
            raise DataPathError(f"{path!r}: attribute {name!r} of {obj.name!r} cannot be a parameter: {problem}")
        self.path, self.obj, self.mesh, self.name = path, obj, obj.data, name
        self.domain = self._attribute().domain
        self.shape = (len(self._attribute().data),)

    def __repr__(self):
        return f"<AttributeBinding {self.path} {self.name!r} {self.domain} {self.shape}>"

    @property
    def block_key(self) -> str:
        """What two parameters must not share: this attribute of this object."""
        return f"{self.path}, attribute {self.name!r}"

    def _attribute(self):
        # looked up each time: adding or removing another attribute may move this one in memory
        return self.mesh.attributes[self.name]

    def get_raw(self) -> np.ndarray:
        buf = np.empty(self.size, dtype=np.float32)
        self._attribute().data.foreach_get("value", buf)
        return buf

    def set_raw(self, raw) -> None:
        self._attribute().data.foreach_set("value", np.asarray(raw, dtype=np.float32))
        self.mesh.update()

    def read(self) -> np.ndarray:
        return self.get_raw().astype(np.float64)

    def write(self, values) -> None:
        self.set_raw(self.check(values))

    def default_bounds(self) -> tuple[float, float]:
        """0 to 1 (a mask or a weight), widened to the values the attribute holds now."""
        values = self.read()
        if not len(values):
            return 0.0, 1.0
        return min(0.0, float(values.min())), max(1.0, float(values.max()))

    def edges(self):
        """The mesh's edges when the values live on its points (smooth probes follow them), else None."""
        if self.domain != "POINT" or not len(self.mesh.edges):
            return None
        return tuple(_edge_pairs(self.mesh).reshape(-1).tolist())


def _attribute_problem(obj, name: str) -> str | None:
    if obj.type != "MESH":
        return f"it is a {obj.type.lower()} object; an attribute parameter needs a mesh object"
    if obj.mode == "EDIT":
        return "the object is in Edit Mode, which would overwrite the values; leave Edit Mode first"
    attribute = obj.data.attributes.get(name)
    if attribute is None:
        names = [a.name for a in obj.data.attributes if a.data_type == "FLOAT" and not a.name.startswith(".")]
        return "the mesh has no such attribute" + (
            lookup.names_hint(names, name) if names else "; add one in Object Data › Attributes (type Float)"
        )
    if attribute.data_type != "FLOAT":
        return (
            f"it holds {attribute.data_type.lower().replace('_', ' ')} values; an attribute parameter is a Float "
            "attribute (one number per element)"
        )
    if name.startswith("."):
        return "it is one of Blender's internal attributes (its name starts with a dot)"
    if not len(attribute.data):
        return f"its domain ({attribute.domain.lower()}) has no elements"
    return None


# --- resolution ------------------------------------------------------------------------------------------
def resolve_array(ref: ParamRef) -> ArrayBinding:
    """An array reference → its binding; a DataPathError names what is wrong and how to fix it."""
    struct = lookup.resolve_struct(ref.path)
    array = ref.array
    if array.kind == "image":
        if not isinstance(struct, bpy.types.Image):
            raise DataPathError(
                f"{ref.path!r} is a {type(struct).__name__}, not an image; an image parameter's path is "
                """e.g. 'images["Albedo"]'"""
            )
        return ImageBinding(lookup.path_for_id(struct), struct, array.channels)
    if not isinstance(struct, bpy.types.Object):
        raise DataPathError(
            f"{ref.path!r} is a {type(struct).__name__}, not an object; a {array.kind} parameter's path is "
            """e.g. 'objects["Ball"]'"""
        )
    if array.kind == "attribute":
        return AttributeBinding(lookup.path_for_id(struct), struct, array.attribute)
    return MeshBinding(lookup.path_for_id(struct), struct, array.mode, array.group)
