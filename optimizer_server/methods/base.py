"""The ask/tell contract every method follows.

Public methods here validate and keep the bookkeeping (counters, best point, pending batch,
noise seeds); subclasses implement only the algorithm's private hooks:

    _ask() -> (B, n) unit-cube points        _tell(x, losses)     current (property)
    _state_dict() / _load_state_dict(d)      _batch_size()        sigma (property, optional)

A method with ``wants_residuals = True`` also gets each sample's residual vector (for an image
loss: the pixels' differences from the target, whose squares sum to the loss) as
``_tell(x, losses, residuals)``; callers check ``method.wants_residuals`` and pass them to ``tell``.

A failed ``tell`` (bad shape, non-finite loss, unknown batch) raises a project error and leaves
every piece of state untouched, so the caller can fix the losses and tell again.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..wire.errors import ConfigError, StateError, TellError
from ..wire.space import Space


@dataclass
class CommonOptions:
    """Options every method accepts.

    Each method's options class names its option groups (``GROUPS``: group → option names; every
    option in exactly one, a test checks) and the few options a user changes first (``BASIC``: shown
    unfolded in the panel). Groups of subclasses extend their base's.
    """

    common_random_numbers: bool = True
    """Give every sample of one iteration the same render-noise seed (paired samples then differ
    by the parameter change, not by Monte-Carlo noise). False: a fresh seed per sample."""
    fill_workers: bool = True
    """When the caller says k renders can run at once (a server with k ready workers), size each
    iteration's batch to a whole number of rounds over them (methods that can use more samples take
    more). With one worker, or False, the method runs exactly as its options say."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"sampling": ("common_random_numbers", "fill_workers")}
    BASIC: ClassVar[tuple[str, ...]] = ()


def option_groups(options_cls) -> dict[str, str]:
    """option name → its group, merged over the options class's bases."""
    groups: dict[str, str] = {}
    for klass in reversed(options_cls.__mro__):
        for group, names in vars(klass).get("GROUPS", {}).items():
            groups.update(dict.fromkeys(names, group))
    return groups


@dataclass(frozen=True)
class Batch:
    """What ``ask()`` returns: the points to evaluate and the noise seed each render should use."""

    x: np.ndarray
    """(B, n) float64 points in the unit cube (may lie slightly outside near the bounds:
    ``Space.from_unit`` clips them when they are turned into scene values)."""
    seeds: np.ndarray
    """(B,) int64 render-noise seeds in ``[0, 2**31)``."""
    iteration: int

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Capabilities:
    """What the caller of a method can do beyond passing losses (given to ``create_method``)."""

    residuals: bool = False
    """Each sample's residual vector (for an image loss: the weighted pixel differences from the target)
    reaches ``tell``. The server and the scene harness always can; ``minimize`` when ``f`` returns
    (B, P) residuals. Methods that need them (``wants_residuals``) refuse to run without."""
    parallel: int = 1
    """How many renders can run at once when the method is made (a server's ready workers). A count
    that changes later reaches the method through ``Method.set_parallel`` before an ask."""


def as_space(space) -> Space:
    """A Space, or a number n of continuous unit-cube values (``Space.unit(n)``)."""
    if isinstance(space, Space):
        return space
    if isinstance(space, bool) or not isinstance(space, (int, np.integer)) or space < 1:
        raise ConfigError(f"a method needs a Space or a positive number of parameters, got {space!r}")
    return Space.unit(int(space))


def render_seeds(seed: int, iteration: int, count: int, common: bool) -> np.ndarray:
    """Deterministic render-noise seeds for one iteration (derived, so they need no saved state)."""
    if common:
        s = np.random.SeedSequence([seed, iteration]).generate_state(1)[0] & 0x7FFFFFFF
        return np.full(count, s, dtype=np.int64)
    states = np.random.SeedSequence([seed, iteration, 1]).generate_state(count)
    return (states & 0x7FFFFFFF).astype(np.int64)


class Method(ABC):
    """Base class of every optimisation method (see the module docstring)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Options: ClassVar[type] = CommonOptions
    wants_residuals: ClassVar[bool] = False
    """True: ``tell`` needs each sample's residual vector, not only its loss."""

    def __init__(
        self,
        space: Space | int,
        budget: int,
        seed: int = 0,
        x0=None,
        device=None,
        capabilities: Capabilities | None = None,
        **options: Any,
    ):
        """``space``: the parameters (kinds, bounds, array layouts; a number n means n continuous values).
        Methods see the unit cube; from the space they take ``resolution`` (the unit-cube distance
        between neighbouring values of discrete kinds, so a discrete parameter is never sampled on one
        value only) and ``space.grids`` (image-shaped blocks). ``capabilities``: what the caller can
        pass besides losses."""
        self.space = as_space(space)
        n = self.space.n
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ConfigError(f"budget (number of evaluations) must be a positive integer, got {budget!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        self.n, self.budget, self.seed = int(n), int(budget), int(seed)
        self.options = make_options(self.Options, options, self.name)
        if x0 is None:
            x0 = np.full(self.n, 0.5)
        x0 = np.asarray(x0, dtype=np.float64)
        if x0.shape != (self.n,) or not np.all(np.isfinite(x0)):
            raise ConfigError(f"x0 must be {self.n} finite unit-cube values, got shape {x0.shape}")
        if np.any(x0 < 0) or np.any(x0 > 1):
            raise ConfigError("x0 must lie in the unit cube [0, 1]^n (convert with Space.to_unit)")
        self.x0 = x0
        self.resolution = self.space.resolution
        self.capabilities = capabilities or Capabilities()
        self.parallel = max(1, int(self.capabilities.parallel)) if self.options.fill_workers else 1
        """Renders that can run at once (``set_parallel``); 1 leaves the method exactly as its options say."""
        if self.wants_residuals and not self.capabilities.residuals:
            raise ConfigError(
                f"method {self.name!r} needs each render's residual image, which this caller cannot pass "
                "(a server job and the scene benchmark can; minimize() when f returns (B, P) residuals)"
            )
        self.device = device
        self.evaluations = 0
        self.iteration = 0
        self.best_x: np.ndarray | None = None
        self.best_loss = float("inf")
        self._pending: Batch | None = None
        self._setup()

    # --- hooks -----------------------------------------------------------------------------
    def _setup(self) -> None:  # noqa: B027 (optional hook: most methods need no set-up)
        """Build the algorithm's state from ``self.options``, ``self.x0``, ``self.seed``."""

    @abstractmethod
    def _ask(self) -> np.ndarray: ...

    @abstractmethod
    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None: ...

    @abstractmethod
    def _batch_size(self) -> int:
        """How many points the next ``ask()`` returns."""

    @property
    @abstractmethod
    def current(self) -> np.ndarray:
        """The method's current estimate of the optimum, (n,) in the unit cube."""

    @property
    def sigma(self) -> float | None:
        """The current sampling spread in unit-cube units, where the method has one."""
        return None

    def _converged(self) -> bool:
        return False

    def _parallel_changed(self) -> None:  # noqa: B027 (optional hook)
        """``self.parallel`` changed between a tell and the next ask: re-plan what the next batch holds
        (methods whose batch is computed ahead of the ask)."""

    @abstractmethod
    def _state_dict(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load_state_dict(self, state: dict[str, Any]) -> None: ...

    def _render_seeds(self, count: int) -> np.ndarray:
        """The render-noise seeds of the batch being asked (one per point): shared within the batch with
        ``common_random_numbers``, else one each. Derived from (seed, iteration): no state to save."""
        return render_seeds(self.seed, self.iteration, count, self.options.common_random_numbers)

    # --- public API -------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        """How many points the next ``ask()`` returns (renders per iteration)."""
        return self._batch_size()

    @property
    def done(self) -> bool:
        return self.evaluations + self._batch_size() > self.budget or self._converged()

    def set_parallel(self, count: int) -> None:
        """How many renders can run at once now (a server's ready workers), told before each ask.
        Methods that can use a bigger batch size the next one to keep them busy (``rounds_batch``);
        ignored while a batch is pending, with ``fill_workers`` off, and by methods with a fixed batch.
        The count in effect is part of the saved state: a resumed run continues with it."""
        count = max(1, int(count))
        if not self.options.fill_workers or self._pending is not None or count == self.parallel:
            return
        self.parallel = count
        self._parallel_changed()

    def ask(self) -> Batch:
        """The next batch to evaluate. Asking again before ``tell`` returns the same batch."""
        if self._pending is not None:
            return self._pending
        if self.done:
            raise TellError(
                f"{self.name}: the budget of {self.budget} evaluations is used up "
                f"({self.evaluations} spent); check `done` before asking"
            )
        x = np.ascontiguousarray(self._ask(), dtype=np.float64)
        seeds = self._render_seeds(len(x))
        self._pending = Batch(x=x, seeds=seeds, iteration=self.iteration)
        self._pending.x.setflags(write=False)
        return self._pending

    def tell(self, points, losses, residuals=None) -> None:
        """Consume the losses of the pending batch (``points`` is the Batch or its ``x``).

        ``residuals``: (B, P) per-sample residual vectors whose squares sum to the losses (for an image
        loss, the weighted pixel differences from the target); required when ``wants_residuals``,
        ignored otherwise."""
        pending = self._pending
        if pending is None:
            raise TellError(f"{self.name}: tell() without a pending ask(); call ask() first")
        x = points.x if isinstance(points, Batch) else np.asarray(points, dtype=np.float64)
        if x.shape != pending.x.shape or not np.array_equal(x, pending.x):
            raise TellError(
                f"{self.name}: tell() got points that are not the pending batch "
                f"(shape {x.shape}, expected {pending.x.shape}); pass back what ask() returned"
            )
        losses = np.asarray(losses, dtype=np.float64)
        if losses.ndim == 2 and losses.shape[1] == 1:
            losses = losses[:, 0]
        if losses.shape != (len(x),):
            raise TellError(f"{self.name}: expected {len(x)} losses (one per point), got shape {losses.shape}")
        if not np.all(np.isfinite(losses)):
            bad = np.flatnonzero(~np.isfinite(losses)).tolist()
            raise TellError(
                f"{self.name}: losses must be finite; entries {bad} are NaN or inf "
                "(a failed render?) - re-evaluate those points"
            )
        if self.wants_residuals:
            self._tell(pending.x, losses, self._checked_residuals(residuals, len(x)))
        else:
            self._tell(pending.x, losses)
        self._pending = None
        self.evaluations += len(x)
        self.iteration += 1
        i = int(np.argmin(losses))
        if losses[i] < self.best_loss:
            self.best_loss, self.best_x = float(losses[i]), np.clip(pending.x[i], 0.0, 1.0)

    def _checked_residuals(self, residuals, count: int) -> np.ndarray:
        if residuals is None:
            raise TellError(
                f"{self.name}: this method needs each sample's residual vector (for an image loss: "
                "image - target per pixel and channel), not only the losses; pass "
                "tell(batch, losses, residuals=...) or let f return (B, P) residuals"
            )
        residuals = np.asarray(residuals)
        if residuals.ndim != 2 or len(residuals) != count or residuals.shape[1] < 1:
            raise TellError(
                f"{self.name}: expected residuals of shape ({count}, P), one vector per point, "
                f"got shape {residuals.shape}"
            )
        if not np.all(np.isfinite(residuals)):
            raise TellError(f"{self.name}: residuals must be finite; re-evaluate the samples with NaN or inf pixels")
        return residuals

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run bit-for-bit (see ``load_state_dict``)."""
        pending = (
            None
            if self._pending is None
            else {
                "x": self._pending.x.copy(),
                "seeds": self._pending.seeds.copy(),
                "iteration": self._pending.iteration,
            }
        )
        return {
            "method": self.name,
            "n": self.n,
            "budget": self.budget,
            "seed": self.seed,
            "options": dataclasses.asdict(self.options),
            "x0": self.x0.copy(),
            "resolution": self.resolution.copy(),
            "evaluations": self.evaluations,
            "iteration": self.iteration,
            "best_x": None if self.best_x is None else self.best_x.copy(),
            "best_loss": self.best_loss,
            "pending": pending,
            "parallel": self.parallel,
            "algorithm": self._state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from ``state_dict()`` (of a method built with the same name, n and options)."""
        for key, mine in (("method", self.name), ("n", self.n)):
            if state.get(key) != mine:
                raise StateError(f"state is for {key}={state.get(key)!r}, this method has {key}={mine!r}")
        fields = {f.name: f for f in dataclasses.fields(self.Options)}
        # options removed since the state was saved (measured and not kept; structure now in the Space;
        # capabilities now given to create_method) no longer choose anything
        saved_options = {k: v for k, v in (state.get("options") or {}).items() if k in fields}
        for f in fields.values():  # options added since the state was saved: their defaults
            if f.default is not dataclasses.MISSING:  # keep the old behaviour, so they count as set to them
                saved_options.setdefault(f.name, f.default)
        if saved_options != dataclasses.asdict(self.options):
            raise StateError(
                f"state was saved with options {state.get('options')} but this {self.name} "
                f"has {dataclasses.asdict(self.options)}; build the method with the saved options"
            )
        saved = state.get("resolution")
        if saved is not None and not np.array_equal(np.asarray(saved, dtype=np.float64), self.resolution):
            raise StateError(
                "state was saved for parameters of other kinds or ranges (its `resolution` differs); "
                "resume with the job's original parameters"
            )
        self.parallel = int(state.get("parallel", 1))  # before the algorithm: its batch sizes follow it
        self._load_state_dict(state["algorithm"])
        self.budget, self.seed = int(state["budget"]), int(state["seed"])
        self.x0 = np.asarray(state["x0"], dtype=np.float64)
        self.evaluations, self.iteration = int(state["evaluations"]), int(state["iteration"])
        self.best_loss = float(state["best_loss"])
        self.best_x = None if state["best_x"] is None else np.asarray(state["best_x"], dtype=np.float64)
        p = state["pending"]
        self._pending = (
            None
            if p is None
            else Batch(
                x=np.asarray(p["x"], dtype=np.float64),
                seeds=np.asarray(p["seeds"], dtype=np.int64),
                iteration=int(p["iteration"]),
            )
        )


def make_options(options_cls, given: dict[str, Any], method_name: str):
    """Build an options dataclass, rejecting unknown names and wrongly typed values clearly."""
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {unknown} for method {method_name!r}; its options are: {', '.join(sorted(fields))}"
        )
    checked = {}
    for key, value in given.items():
        default = fields[key].default
        if isinstance(default, bool):
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"{method_name}: option {key!r} must be true/false, got {value!r}")
            value = bool(value)
        elif isinstance(default, int) and default is not None:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{method_name}: option {key!r} must be an integer, got {value!r}")
            value = int(value)
        elif isinstance(default, float):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float, np.integer, np.floating))
                or not np.isfinite(value)
            ):
                raise ConfigError(f"{method_name}: option {key!r} must be a finite number, got {value!r}")
            value = float(value)
        checked[key] = value
    opts = options_cls(**checked)
    validate = getattr(opts, "validate", None)
    if validate is not None:
        validate(method_name)
    return opts
