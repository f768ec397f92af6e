"""The loss curve the panel shows: a small PNG drawn with numpy, shown through a preview icon.

``bpy.utils.previews`` (every Blender the add-on declares) turns the PNG into an icon the panel
draws with ``template_icon``; each new curve gets a new key, so the panel never shows a stale
one. The same pixels also go into the image "ZeroGrads Loss", which the artist can open in an
Image Editor at full size.
"""

from __future__ import annotations

import os

import bpy

from . import images

WIDTH, HEIGHT = 256, 160
IMAGE_NAME = "ZeroGrads Loss"
_previews = {"collection": None, "key": None, "serial": 0}


def update(losses: list[float], folder: str) -> None:
    """Draw the curve of ``losses`` (needs two points) into ``folder`` and refresh the icon and image."""
    if len(losses) < 2 or not os.path.isdir(folder):
        return
    pixels = images.plot_curve(losses, WIDTH, HEIGHT)
    _previews["serial"] += 1
    path = os.path.join(folder, f"loss_{_previews['serial'] % 2}.png")  # two files: the icon may still read the last
    images.write_png(path, pixels, linear=False)
    collection = _collection()
    old = _previews["key"]
    key = f"loss{_previews['serial']}"
    preview = collection.load(key, path, "IMAGE", force_reload=True)
    preview.image_size  # noqa: B018 (reading it loads the PNG now, so the panel never draws an empty icon)
    _previews["key"] = key
    if old is not None and old in collection:
        del collection[old]
    _store_image(pixels)


def icon_id() -> int:
    """The current curve's icon (0: none yet)."""
    collection, key = _previews["collection"], _previews["key"]
    if collection is None or key is None or key not in collection:
        return 0
    return collection[key].icon_id


def clear() -> None:
    if _previews["collection"] is not None:
        bpy.utils.previews.remove(_previews["collection"])
    _previews.update(collection=None, key=None)


def _collection():
    if _previews["collection"] is None:
        import bpy.utils.previews

        _previews["collection"] = bpy.utils.previews.new()
    return _previews["collection"]


def _store_image(pixels) -> None:
    image = bpy.data.images.get(IMAGE_NAME)
    if image is None or tuple(image.size) != (WIDTH, HEIGHT):
        if image is not None:
            bpy.data.images.remove(image)
        image = bpy.data.images.new(IMAGE_NAME, WIDTH, HEIGHT, alpha=True)
    image.pixels.foreach_set((pixels[::-1].astype("float32") / 255.0).ravel())
    image.update()
