"""A hard-edged disc rasteriser: the smallest image task with a real plateau.

The parameters are the disc centre (cx, cy) in image coordinates, bounded to [r, 1 - r] so the disc
stays whole in view (with looser bounds every gradient method learns that a disc pushed half out of
the image has a lower MSE — the failure the thesis reports in Sec. 5.4.8). While the disc does not
overlap the target disc, moving it changes no loss: the MSE is the two discs' areas, whatever the
position — a plateau no finite difference escapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..wire.space import ParamSpec, Space


@dataclass
class DiscTask:
    size: int = 32
    """Image width and height in pixels."""
    radius: float = 0.15
    """Disc radius as a fraction of the image width."""
    channels: int = 3
    colour: tuple = (1.0, 0.6, 0.2)
    target_centre: tuple = (0.7, 0.3)
    start_centre: tuple = (0.25, 0.75)
    _grid: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        centres = (np.arange(self.size, dtype=np.float32) + 0.5) / self.size
        self._yy, self._xx = np.meshgrid(centres, centres, indexing="ij")
        self._colour = np.resize(np.asarray(self.colour, dtype=np.float32), self.channels)
        self.target = self.render(np.asarray([self.target_centre]))[0]

    @property
    def space(self) -> Space:
        lo, hi = self.radius, 1.0 - self.radius
        return Space([ParamSpec("cx", lo, hi), ParamSpec("cy", lo, hi)])

    def render(self, params) -> np.ndarray:
        """(B, 2) centres → (B, size, size, channels) float32 linear images, rows top-down."""
        params = np.asarray(params, dtype=np.float32).reshape(-1, 2)
        dx = self._xx[None] - params[:, 0, None, None]
        dy = self._yy[None] - params[:, 1, None, None]
        inside = (dx * dx + dy * dy) < self.radius * self.radius
        return inside[..., None].astype(np.float32) * self._colour

    def loss(self, params) -> np.ndarray:
        """Image MSE against the target for each row of ``params``."""
        diff = self.render(params) - self.target
        return (diff * diff).mean(axis=(1, 2, 3)).astype(np.float64)

    def parameter_error(self, params) -> np.ndarray:
        """Euclidean distance of the centre(s) from the target centre."""
        params = np.asarray(params, dtype=np.float64).reshape(-1, 2)
        return np.linalg.norm(params - np.asarray(self.target_centre), axis=1)
