"""Link parameters: whether a link between two named sockets of a node graph exists (a bool).

A link parameter is a ``ParamRef`` whose ``link`` (a ``LinkRef``) names the two sockets by node and
socket name, and whose path is the node tree's::

    ParamRef("l3", 'materials["Mat"].node_tree', link=LinkRef("Noise", "Color", "Mix", "A"))

Sockets are found by identifier (``A_Color``) or by name among the node's *enabled* sockets
(a Mix node has six sockets called "A", only one of them in use), never by ``eval``. The
optimiser sees a bool (its ``ParamSpec`` kind); value 1 creates the link, 0 removes it.

Snapshots hold the whole state of the target input (every link into it), so a rollback brings
back exactly what was there, also when several parameters share one input. An input takes one
link: when two parameters into the same input are both on, the later one in the list wins.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import bpy

from optimizer_server.wire.paramref import LinkRef
from optimizer_server.wire.space import round_half_up

from . import lookup
from .datapath import DataPathError


class LinkBinding:
    """One candidate link in a node tree; quacks like :class:`params.Binding` of kind bool."""

    kind = "bool"
    index = -1
    choices = None

    def __init__(self, path: str, tree, link: LinkRef, from_socket, to_socket):
        self.path = path  # the node tree's data path
        self.link = link  # the four names, as given
        self.tree = tree
        self.from_socket = from_socket
        self.to_socket = to_socket
        self.tag_id = tree  # persistent data: re-sync the material's shader graph

    def __repr__(self):
        return f"<LinkBinding {self.path}: {self.link}>"

    # --- raw access: the full state of the target input, for snapshots ----------------------------
    def get_raw(self) -> tuple[tuple[str, str], ...]:
        return tuple((lk.from_node.name, lk.from_socket.identifier) for lk in self.to_socket.links)

    def set_raw(self, raw) -> None:
        for lk in list(self.to_socket.links):
            self.tree.links.remove(lk)
        for node_name, identifier in raw:
            node = self.tree.nodes[node_name]
            socket = next(s for s in node.outputs if s.identifier == identifier)
            self.tree.links.new(socket, self.to_socket)

    # --- parameter units ---------------------------------------------------------------------------
    def _present(self) -> bool:
        return any(lk.from_socket == self.from_socket for lk in self.to_socket.links)

    def _set_present(self, present: bool) -> None:
        if present and not self._present():
            new = self.tree.links.new(self.from_socket, self.to_socket)
            if not new.is_valid:  # Blender keeps invalid links (drawn red); Cycles would ignore them
                self.tree.links.remove(new)
                raise DataPathError(
                    f"{self.path}: the link {self.link} is not valid in Blender "
                    "(it closes a loop or joins incompatible sockets); nothing was changed"
                )
        elif not present:
            for lk in [lk for lk in self.to_socket.links if lk.from_socket == self.from_socket]:
                self.tree.links.remove(lk)

    def read(self) -> float:
        return 1.0 if self._present() else 0.0

    def to_raw(self, value: float) -> bool:
        return int(round_half_up(value)) >= 1

    def write(self, value: float) -> None:
        self._set_present(self.to_raw(value))

    def default_bounds(self) -> tuple:
        return 0.0, 1.0


def _node_tree(struct, path: str):
    tree = getattr(struct, "node_tree", None) if not isinstance(struct, bpy.types.NodeTree) else struct
    if not isinstance(tree, bpy.types.NodeTree):
        raise DataPathError(
            f"{path!r} is a {type(struct).__name__}, not a node tree; point the path at one, "
            """e.g. 'materials["Mat"].node_tree'"""
        )
    return tree


def _hint(wanted: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(wanted, list(names), n=3)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "; it has " + (", ".join(repr(n) for n in names[:10]) or "none") + (" …" if len(names) > 10 else "")


def _socket(tree, path: str, node_name: str, socket_name: str, side: str):
    node = tree.nodes.get(node_name)
    if node is None:
        raise DataPathError(
            f"{path!r} has no node named {node_name!r}{_hint(node_name, tree.nodes.keys())} "
            "(use the node's name, shown in the sidebar's Node tab, not its label)"
        )
    sockets = node.outputs if side == "from" else node.inputs
    direction = "output" if side == "from" else "input"
    by_id = [s for s in sockets if s.identifier == socket_name]
    by_name = [s for s in sockets if s.name == socket_name and s.enabled]
    found = by_id or by_name
    if len(found) == 1 and found[0].enabled:
        return found[0]
    if len(found) == 1:
        raise DataPathError(
            f"{direction} {socket_name!r} of node {node_name!r} is not in use with the node's "
            "current settings (e.g. a Mix node's data type); pick an enabled socket"
        )
    if len(found) > 1:
        raise DataPathError(
            f"node {node_name!r} has {len(found)} enabled {direction}s named {socket_name!r}; "
            f"use an identifier: {', '.join(s.identifier for s in found)}"
        )
    other = node.inputs if side == "from" else node.outputs
    if any(s.name == socket_name or s.identifier == socket_name for s in other):
        flip = "input" if side == "from" else "output"
        raise DataPathError(
            f"{socket_name!r} of node {node_name!r} is an {flip}; a link goes from an output "
            f"(from_socket) to an input (to_socket)"
        )
    if any(s.name == socket_name for s in sockets):
        raise DataPathError(
            f"{direction} {socket_name!r} of node {node_name!r} is not in use with the node's "
            f"current settings; enable it or use one of: "
            + ", ".join(s.identifier for s in sockets if s.name == socket_name)
        )
    names = [s.name for s in sockets if s.enabled]
    raise DataPathError(f"node {node_name!r} has no {direction} {socket_name!r}{_hint(socket_name, names)}")


def resolve_link(path: str, link: LinkRef, struct) -> LinkBinding:
    """Bind a link in the node tree ``struct`` (already resolved from ``path``)."""
    tree = _node_tree(struct, path)
    from_socket = _socket(tree, path, link.from_node, link.from_socket, "from")
    to_socket = _socket(tree, path, link.to_node, link.to_socket, "to")
    if from_socket.node == to_socket.node:
        raise DataPathError(f"{path!r}: {link} links a node to itself; Blender rejects such loops")
    if from_socket.type == "SHADER" and to_socket.type != "SHADER":
        raise DataPathError(
            f"{path!r}: {link} joins a shader output to a {to_socket.type.lower()} "
            "input; Blender marks such links invalid. Pick a shader input (e.g. a Mix Shader's)"
        )
    return LinkBinding(lookup.path_for_id(tree), tree, link, from_socket, to_socket)


def check_shared_inputs(bindings: Sequence[Any]) -> list[str]:
    """Problems with inputs that other, uncontrolled links feed (applying would lose those links)."""
    candidates: dict[int, tuple[Any, set]] = {}
    for b in bindings:
        if isinstance(b, LinkBinding):
            key = b.to_socket.as_pointer()
            candidates.setdefault(key, (b, set()))[1].add(b.from_socket.as_pointer())
    problems = []
    for b, sources in candidates.values():
        if b.to_socket.is_multi_input:
            continue
        for lk in b.to_socket.links:
            if lk.from_socket.as_pointer() not in sources:
                problems.append(
                    f"input {b.link.to_node}.{b.link.to_socket} of {b.path} is fed by "
                    f"{lk.from_node.name}.{lk.from_socket.name}, which no link parameter controls: switching a "
                    "candidate on would replace that link and switching it off would not bring it back. Remove "
                    "that link in the node editor, or make it a link parameter too"
                )
    return problems
