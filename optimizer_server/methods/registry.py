"""The one registry of methods: the server, the add-on's menu, the CLI and the benchmarks read it."""

from __future__ import annotations

import dataclasses

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


def create_method(
    name: str, n: int, budget: int, seed: int = 0, x0=None, device=None, preset=None, resolution=None, **options
):
    """Build the registered method ``name`` for an ``n``-dimensional unit-cube problem.

    ``preset`` names one of the method's ``presets`` (the paper's per-task hyperparameters or an
    ablation); explicit ``options`` override it.
    """
    cls = get_method_class(name)
    return cls(
        n=n,
        budget=budget,
        seed=seed,
        x0=x0,
        device=device,
        resolution=resolution,
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
    """name → {description, options: {option: {default, doc}}} for menus, CLIs and docs."""
    out = {}
    for name in available_methods():
        cls = _REGISTRY[name]
        docs = option_docs(cls.Options)
        out[name] = {
            "description": cls.description,
            "options": {
                f.name: {"default": f.default, "doc": docs.get(f.name, "")} for f in dataclasses.fields(cls.Options)
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
