"""The one registry of methods and their named configurations: the server, the add-on's menu, job
files, the CLI and the benchmarks read it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..wire.errors import ConfigError, UnknownMethodError

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: add a Method subclass under ``cls.name``. Duplicate names are refused."""
    if not cls.name or not cls.description:
        raise ConfigError(f"{cls.__name__} needs a `name` and a one-line `description` to be registered")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ConfigError(f"a method named {cls.name!r} is already registered ({_REGISTRY[cls.name].__name__})")
    _REGISTRY[cls.name] = cls
    return cls


def get_method_class(name: str):
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None


@dataclass(frozen=True)
class Configuration:
    """A named way to run a method: the method's defaults (named like the method) or one of its presets
    (``method:preset``). The panel, job files, the CLI and the benchmarks' rows all use these names."""

    name: str
    method: str
    preset: str | None
    options: dict[str, Any]
    """The preset's option values (empty for the method's defaults)."""
    description: str


FEATURED = ("auto", "zerograds:efficient", "zerograds:paper", "prdpt:paper", "gauss_newton", "cmaes", "nevergrad")
"""The short list the panel offers first; every other configuration stays reachable by name."""


def split_configuration(name: str, preset: str | None = None) -> tuple[str, str | None]:
    """``"zerograds:efficient"`` → ("zerograds", "efficient"); a bare method name keeps ``preset``."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a method or configuration name must be a non-empty string, got {name!r}")
    method, sep, named_preset = name.partition(":")
    if sep:
        if preset not in (None, named_preset):
            raise ConfigError(f"{name!r} names preset {named_preset!r} but preset={preset!r} was given too")
        return method, named_preset
    return method, preset


def configurations() -> dict[str, Configuration]:
    """Every registered configuration by name: each method's defaults, then its presets."""
    out = {}
    for method in available_methods():
        cls = _REGISTRY[method]
        out[method] = Configuration(method, method, None, {}, cls.description)
        notes = getattr(cls, "preset_notes", {})
        for preset, options in getattr(cls, "presets", {}).items():
            name = f"{method}:{preset}"
            out[name] = Configuration(name, method, preset, dict(options), notes.get(preset, ""))
    return out


def create_method(
    name: str,
    space,
    budget: int,
    seed: int = 0,
    x0=None,
    device=None,
    capabilities=None,
    preset: str | None = None,
    **options,
):
    """Build a method by configuration name (``"zerograds:efficient"``, or ``"zerograds"`` with
    ``preset="efficient"``) for ``space`` (a ``Space``, or a number n of continuous unit-cube values).
    Explicit ``options`` override the preset's; ``capabilities`` says what the caller passes besides
    losses (``Capabilities(residuals=True)`` when it has the rendered images)."""
    method, preset = split_configuration(name, preset)
    cls = get_method_class(method)
    return cls(
        space,
        budget=budget,
        seed=seed,
        x0=x0,
        device=device,
        capabilities=capabilities,
        **resolve_preset(cls, preset, options),
    )


def resolve_preset(cls, preset, options):
    """The options of ``preset`` (if any) updated with the explicit ``options``."""
    if preset is None:
        return dict(options)
    presets = getattr(cls, "presets", {})
    if preset not in presets:
        raise ConfigError(
            f"method {cls.name!r} has no preset {preset!r}; its presets: {', '.join(sorted(presets)) or 'none'}"
        )
    return {**presets[preset], **options}


def available_methods() -> list[str]:
    return sorted(_REGISTRY)


def describe_methods() -> dict[str, dict]:
    """name → {description, options: {option: {default, doc, group, basic}}, presets} for menus, CLIs
    and docs."""
    from .base import option_groups

    out = {}
    for name in available_methods():
        cls = _REGISTRY[name]
        docs, groups = option_docs(cls.Options), option_groups(cls.Options)
        basic = set(getattr(cls.Options, "BASIC", ()))
        out[name] = {
            "description": cls.description,
            "options": {
                f.name: {
                    "default": f.default,
                    "doc": docs.get(f.name, ""),
                    "group": groups.get(f.name, ""),
                    "basic": f.name in basic,
                }
                for f in dataclasses.fields(cls.Options)
            },
            "presets": sorted(getattr(cls, "presets", {})),
        }
    return out


def option_docs(options_cls) -> dict[str, str]:
    """The docstring written under each dataclass field (read from the source, once)."""
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed(options_cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body
        for stmt, nxt in zip(body, body[1:]):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(getattr(nxt, "value", None), ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs
