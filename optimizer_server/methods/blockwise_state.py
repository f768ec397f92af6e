"""``blockwise``'s state as plain data (``Method.state_dict``): everything a run needs to continue
bit-for-bit, its CMA-ES refinement included (which replays its own history). A mixin of ``Blockwise``
(blockwise.py), which owns the attributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class BlockwiseState:
    """Blockwise's ``_state_dict`` and ``_load_state_dict`` (``self`` is a ``Blockwise``)."""

    def _state_dict(self) -> dict[str, Any]:
        plan = None if self._plan is None else dict(zip(("points", "owners", "kinds"), self._plan))
        local = None
        if self.local is not None:
            local = {"args": dict(self.local_args), "start": self.local_start.copy(), "since": self.local_since}
            local["losses"] = list(self.local_losses)
            local["state"] = self.local.state_dict()
        arrays = ("incumbent", "step", "radius", "state", "drawn")
        return {
            **{k: getattr(self, k).copy() for k in arrays},
            **{
                k: getattr(self, k) for k in ("incumbent_loss", "incumbent_residual", "noise_free", "located", "jitter")
            },
            **{k: getattr(self, k) for k in ("rotation", "quiet", "sweep", "restarts")},
            "rerendered": list(self.rerendered),
            "walk": list(self.walk),
            "proposals": {str(j): v.copy() for j, v in self.proposals.items()},
            "combo": None if self.combo is None else self.combo.copy(),
            "plan": plan,
            "plan_base": self._plan_base,
            "local": local,
        }

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        self.incumbent = np.asarray(s["incumbent"], dtype=np.float64)
        self.step = np.asarray(s["step"], dtype=np.float64)
        self.incumbent_loss, self.noise_free = float(s["incumbent_loss"]), bool(s["noise_free"])
        r = s["incumbent_residual"]
        self.incumbent_residual = None if r is None else np.asarray(r)
        self.proposals = {int(j): np.asarray(v, dtype=np.float64) for j, v in s["proposals"].items()}
        self.radius = np.asarray(s["radius"], dtype=np.float64)
        self.state = np.asarray(s["state"], dtype=np.int64)
        self.drawn = np.asarray(s["drawn"], dtype=np.int64)
        self.rotation, self.quiet, self.sweep = int(s["rotation"]), int(s["quiet"]), int(s["sweep"])
        self.restarts = int(s["restarts"])
        self.rerendered = [float(v) for v in s.get("rerendered", [])]
        self.walk = [float(v) for v in s.get("walk", [])]
        self.located, self.jitter = bool(s.get("located", False)), float(s.get("jitter", 0.0))
        self.combo = None if s["combo"] is None else np.asarray(s["combo"], dtype=np.float64)
        p = s["plan"]
        self._plan = None if p is None else (np.asarray(p["points"]), np.asarray(p["owners"]), np.asarray(p["kinds"]))
        b = s.get("plan_base")
        self._plan_base = None if b is None else {**b, "drawn": np.asarray(b["drawn"], dtype=np.int64)}
        self.local = None
        if s["local"] is not None:
            self.local_args = {k: (float(v) if k == "sigma0" else int(v)) for k, v in s["local"]["args"].items()}
            self.local_since = int(s["local"]["since"])
            self.local_losses = [float(v) for v in s["local"].get("losses", [])]
            self.local_start = np.asarray(s["local"]["start"], dtype=np.float64)
            self.local = self._make_local()
            self.local.load_state_dict(s["local"]["state"])
