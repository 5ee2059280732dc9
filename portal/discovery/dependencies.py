"""Dependency analysis (the `dependency_analysis` phase; no database, no Flask).

`analyse_dependencies` turns the assets' `depends_on` references and the rows of an
optional connections file into a directed graph (edge A -> B: A depends on B) and reads
from it what a migration plan needs: move groups (weakly connected components of two or
more assets: what must move together), cycles (mutual dependencies that force one wave),
the most depended-on assets (move them last, or carefully) and the references that named
no known asset (reported, never dropped silently).

References are resolved case-insensitively against every asset's identifiers, in this
order: name or key, FQDN, hostname, IP address, then the first label of an FQDN-looking
reference ("db01.corp.example.com" finds the asset whose hostname is "db01").  A
reference with a port ("db01:5432") resolves its host part and keeps the port on the edge.
When two assets claim the same identifier the first one keeps it.  An asset depending on
itself is no edge.

How a million assets fit in a few hundred megabytes: the assets are streamed four times
and never held.  The first pass notes every identifier the references could ask for, the
second indexes only those (references name a fraction of an inventory's identifiers), the
third resolves the references into edges between integer node ids, the fourth picks up
the names.  The graph is held in flat arrays (`_Graph`; a networkx graph costs some 400
bytes a node): networkx's union-find reads the move groups from its edges, and networkx
finds the cycles in its cyclic core, the small part that is left once the assets with no
dependency or no dependent left are peeled away.

`graph_svg` draws the result as a static SVG (no script, no style attributes: presentation
attributes and class names only, so the strict CSP allows it inline).
"""
from __future__ import annotations

import heapq
import html
import math
import re
from array import array
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import networkx as nx

from portal.discovery import fields
from portal.discovery.cleansing import collector_paused

CYCLES_LISTED = 100        # cycles listed; `stats["cyclic_groups"]` counts every knot
CYCLE_LENGTH_BOUND = 12    # longer loops still show as a strongly connected group
CYCLE_SEARCH_STARTS = 2_000
CYCLE_SEARCH_VISITS = 5_000
TOP_DEPENDED_ON = 20
VIA_DEPENDS_ON = "depends_on"
VIA_CONNECTION = "connection"
# What `per_asset` would say of an asset without dependencies (read-only).
NO_DEPENDENCIES = {"depends_on": [], "depended_on_by": [], "group": None}


@dataclass
class DependencyResult:
    """What `analyse_dependencies` returns; keys are the assets' `key` values."""
    edges: list[tuple[str, str, dict]]          # (src, dst, {"ports": [...], "via": ...}),
                                                # attributes read-only (often shared)
    per_asset: PerAsset                         # key -> {"name", "depends_on",
                                                #   "depended_on_by", "group"}
    groups: list[list[str]]                     # move groups (size >= 2), largest first
    cycles: list[list[str]]                     # each starts at its smallest key
    most_depended_on: list[tuple[str, int]]     # (key, in-degree), top TOP_DEPENDED_ON
    unresolved: list[tuple[str | None, str]]    # (referring key or None, reference)
    stats: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """A JSON-ready copy (tuples become lists) for `analysis_results`."""
        return {
            "edges": [[src, dst, attrs] for src, dst, attrs in self.edges],
            "per_asset": dict(self.per_asset), "groups": self.groups, "cycles": self.cycles,
            "most_depended_on": [list(pair) for pair in self.most_depended_on],
            "unresolved": [list(pair) for pair in self.unresolved], "stats": self.stats,
        }


# ---------------------------------------------------------------------------------------
# Resolving references

_PORT_SUFFIX = re.compile(r"^([^:]+):(\d{1,5})$")
NAME, FQDN, HOST, IP = "name", "fqdn", "host", "ip"   # the kinds of identifier
# Looks a folded identifier of a kind up: the key of the asset it names, or None.
Find = Callable[[str, str], str | None]


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive form of an identifier (as `fields.normalise_name`),
    without a trailing dot."""
    folded = text.strip().casefold()
    if "  " in folded or not folded.isprintable():
        folded = fields.normalise_name(folded)
    return folded.rstrip(".")


def _lookup(text: str, find: Find) -> str | None:
    folded = _fold(text)
    found = find(NAME, folded) or find(FQDN, folded) or find(HOST, folded)
    if found:
        return found
    address = fields.parse_ip(folded)
    if address:
        return find(IP, address)
    if "." in folded:
        return find(HOST, folded.split(".", 1)[0])
    return None


def _resolve(reference, find: Find) -> tuple[str | None, int | None]:
    """(asset key or None, port or None) for one reference."""
    text = str(reference).strip()
    if not text:
        return None, None
    found = _lookup(text, find)
    if found:
        return found, None
    with_port = _PORT_SUFFIX.match(text)
    if with_port:
        return _lookup(with_port.group(1), find), int(with_port.group(2))
    return None, None


def _references(asset: Mapping) -> Iterable:
    references = asset.get("depends_on") or ()
    return [references] if isinstance(references, str) else references


def _asked_for(assets: Iterable[Mapping], connections: Iterable[Mapping]) -> set[str]:
    """Every folded identifier that resolving the assets' references and the connections'
    ends could look up: a lookup that finds nothing looks up all it can."""
    asked: set[str] = set()

    def note(kind: str, folded: str) -> None:
        asked.add(folded)

    for asset in assets:
        for reference in _references(asset):
            _resolve(reference, note)
    for row in connections:
        for end in (row.get("source"), row.get("target")):
            if end:
                _resolve(end, note)
    return asked


def _identifiers(asset: Mapping) -> Iterator[tuple[str, str]]:
    """(kind, folded identifier) for each identifier the asset claims, in claiming order."""
    key = asset["key"]
    for value in (key, asset.get("name")):
        if isinstance(value, str) and value.strip():
            folded = _fold(value)
            yield NAME, key if folded == key else folded  # a key is usually its folded form
    for kind, value in ((FQDN, asset.get("fqdn")), (HOST, asset.get("hostname"))):
        if isinstance(value, str) and value.strip():
            folded = _fold(value)
            yield kind, folded
            yield HOST, folded.split(".", 1)[0]
    address = asset.get("ip_address")
    if isinstance(address, str):
        normalised = fields.parse_ip(address)
        if normalised:
            yield IP, normalised


class _Resolver:
    """Finds the asset a free-text reference names.  Indexes only the identifiers in
    `wanted` (from `_asked_for`): every lookup then finds what a full index would, and
    the first asset claiming an identifier still keeps it."""

    def __init__(self, assets: Iterable[Mapping], wanted: Container[str]) -> None:
        self.tables: dict[str, dict[str, str]] = {NAME: {}, FQDN: {}, HOST: {}, IP: {}}
        self.assets = 0
        for asset in assets:
            for kind, folded in _identifiers(asset):
                if folded in wanted:
                    self.tables[kind].setdefault(folded, asset["key"])
            self.assets += 1

    def find(self, kind: str, folded: str) -> str | None:
        return self.tables[kind].get(folded)

    def resolve(self, reference) -> tuple[str | None, int | None]:
        """(asset key or None, port or None) for one reference."""
        return _resolve(reference, self.find)


def _port(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        port = int(str(value).strip())
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


# ---------------------------------------------------------------------------------------
# Edges


# The attributes of most edges: declared, no port.  One shared (read-only) object stands
# for all of them; a million-asset graph has hundreds of thousands of such edges.
PLAIN_EDGE = {"ports": [], "via": VIA_DEPENDS_ON}


class _Edges:
    """Edges with their ports and origin, and the references that found no asset.  Each
    asset with an edge is a node, numbered in first-seen order: `keys[node]` is its key."""

    def __init__(self) -> None:
        self.nodes: dict[str, int] = {}
        self.keys: list[str] = []
        self.attrs: dict[tuple[int, int], dict] = {}  # (src node, dst node) -> attributes
        self.unresolved: dict[tuple[str | None, str], None] = {}  # ordered set

    def _node(self, key: str) -> int:
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = len(self.keys)
            self.keys.append(key)
        return node

    def add(self, src: str, dst: str, port: int | None, via: str) -> None:
        if src == dst:
            return
        pair = (self._node(src), self._node(dst))
        attrs = self.attrs.get(pair)
        if attrs is None:
            if port is None and via == VIA_DEPENDS_ON:
                self.attrs[pair] = PLAIN_EDGE
                return
            attrs = self.attrs[pair] = {"ports": [], "via": via}
        elif attrs is PLAIN_EDGE:
            if port is None:
                return
            attrs = self.attrs[pair] = {"ports": [], "via": VIA_DEPENDS_ON}
        elif via == VIA_DEPENDS_ON:
            attrs["via"] = via  # declared beats observed
        if port is not None and port not in attrs["ports"]:
            attrs["ports"].append(port)
            attrs["ports"].sort()

    def miss(self, referrer: str | None, reference: str) -> None:
        self.unresolved.setdefault((referrer, str(reference).strip()), None)

    def listed(self) -> list[tuple[str, str, dict]]:
        """Edges in the order they were first seen (attributes read-only)."""
        keys = self.keys
        return [(keys[src], keys[dst], attrs) for (src, dst), attrs in self.attrs.items()]


def _declared_edges(assets: Iterable[Mapping], resolver: _Resolver, edges: _Edges) -> None:
    for asset in assets:
        for reference in _references(asset):
            target, port = resolver.resolve(reference)
            if target is None:
                edges.miss(asset["key"], reference)
            else:
                edges.add(asset["key"], target, port, VIA_DEPENDS_ON)


def _connection_edges(connections: Iterable[Mapping], resolver: _Resolver,
                      edges: _Edges) -> None:
    for row in connections:
        source, target = row.get("source"), row.get("target")
        if not source or not target:
            continue
        src, src_port = resolver.resolve(source)
        dst, dst_port = resolver.resolve(target)
        if src is None:
            edges.miss(None, source)
        if dst is None:
            edges.miss(src, target)
        if src is not None and dst is not None:
            edges.add(src, dst, _port(row.get("port")) or dst_port, VIA_CONNECTION)


# ---------------------------------------------------------------------------------------
# The graph

_NODE_ID = "i"   # array typecode of node ids and offsets (32 bits: two billion of each)


def _flat_adjacency(nodes: int, pairs: Collection[tuple[int, int]],
                    reverse: bool = False) -> tuple[array, array]:
    """(start, neighbours): node n's neighbours along `pairs` (src, dst), or against them
    when `reverse`, are neighbours[start[n]:start[n + 1]], in the pairs' order."""
    near, far = (1, 0) if reverse else (0, 1)
    start = array(_NODE_ID, [0]) * (nodes + 1)
    for pair in pairs:
        start[pair[near] + 1] += 1
    for node in range(nodes):
        start[node + 1] += start[node]
    free = start[:-1]    # each node's next free slot
    neighbours = array(_NODE_ID, [0]) * len(pairs)
    for pair in pairs:
        node = pair[near]
        neighbours[free[node]] = pair[far]
        free[node] += 1
    return start, neighbours


class _Graph:
    """The dependency graph on the edges' integer nodes, in flat arrays: `successors(n)`
    are node n's dependencies and `predecessors(n)` its dependents, in first-seen order."""

    def __init__(self, edges: _Edges) -> None:
        self.keys, self.nodes, self.pairs = edges.keys, edges.nodes, edges.attrs.keys()
        self._out_start, self._out = _flat_adjacency(len(self.keys), self.pairs)
        self._in_start, self._in = _flat_adjacency(len(self.keys), self.pairs, reverse=True)

    def __len__(self) -> int:
        return len(self.keys)

    def successors(self, node: int) -> array:
        return self._out[self._out_start[node]:self._out_start[node + 1]]

    def predecessors(self, node: int) -> array:
        return self._in[self._in_start[node]:self._in_start[node + 1]]

    def out_degree(self, node: int) -> int:
        return self._out_start[node + 1] - self._out_start[node]

    def in_degree(self, node: int) -> int:
        return self._in_start[node + 1] - self._in_start[node]

    def sorted_keys(self, nodes: Iterable[int]) -> list[str]:
        return sorted(self.keys[node] for node in nodes)


# ---------------------------------------------------------------------------------------
# Reading the graph


def _components(graph: _Graph, assets: int) -> tuple[list[list[str]], array, int]:
    """Move groups (the weakly connected components, largest first, then by first key;
    each node has an edge to another, so each has two or more), each node's group number,
    and the number of the `assets` that stand alone (the graph holds only assets with
    edges)."""
    partition = nx.utils.UnionFind()
    for src, dst in graph.pairs:
        partition.union(src, dst)
    members: dict[int, list[str]] = {}  # a component's root -> its keys
    for node, key in enumerate(graph.keys):
        members.setdefault(partition[node], []).append(key)
    del partition
    for group in members.values():
        group.sort()
    groups = sorted(members.values(), key=lambda group: (-len(group), group[0]))
    del members
    group_of = array(_NODE_ID, [0]) * len(graph)
    for number, group in enumerate(groups):
        for key in group:
            group_of[graph.nodes[key]] = number
    return groups, group_of, assets - len(graph)


def _cyclic_core(graph: _Graph) -> nx.DiGraph:
    """The part of the graph every cycle lies in, as a networkx graph: what is left once
    the nodes with no dependency or no dependent left are peeled away one by one.  Its
    edges keep their first-seen order."""
    out_left = array(_NODE_ID, map(graph.out_degree, range(len(graph))))
    in_left = array(_NODE_ID, map(graph.in_degree, range(len(graph))))
    peeled = bytearray(len(graph))
    peelable = [node for node in range(len(graph)) if not out_left[node] or not in_left[node]]
    while peelable:
        node = peelable.pop()
        if peeled[node]:
            continue
        peeled[node] = 1
        for successor in graph.successors(node):
            in_left[successor] -= 1
            if not in_left[successor]:
                peelable.append(successor)
        for predecessor in graph.predecessors(node):
            out_left[predecessor] -= 1
            if not out_left[predecessor]:
                peelable.append(predecessor)
    core = nx.DiGraph()
    core.add_edges_from((graph.keys[src], graph.keys[dst]) for src, dst in graph.pairs
                        if not peeled[src] and not peeled[dst])
    return core


def _rotated(cycle: list[str]) -> list[str]:
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def _shortest_cycle_through(following: Mapping[str, Iterable[str]], start: str,
                            knot: set[str]) -> list[str] | None:
    """The shortest cycle from `start` back to itself inside `knot` (breadth-first, at most
    CYCLE_LENGTH_BOUND steps and CYCLE_SEARCH_VISITS nodes), or None."""
    parent: dict[str, str | None] = {start: None}
    frontier = [start]
    for _ in range(CYCLE_LENGTH_BOUND):
        reached: list[str] = []
        for node in frontier:
            for successor in following.get(node, ()):
                if successor == start:
                    path = [node]
                    while parent[path[-1]] is not None:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if successor in knot and successor not in parent:
                    parent[successor] = node
                    reached.append(successor)
        if not reached or len(parent) > CYCLE_SEARCH_VISITS:
            return None
        frontier = reached
    return None


def _cycles(graph: nx.DiGraph,
            following: Mapping[str, Iterable[str]]) -> tuple[list[list[str]], int]:
    """Up to CYCLES_LISTED distinct short cycles (each from its smallest key) and the number
    of strongly connected groups of two or more assets (every cycle lies in one).

    Enumerating simple cycles is exponential and networkx's bounded search takes minutes on
    a 30,000-asset knot, so each knot is searched for the shortest cycle through each of its
    assets in key order (mutual dependencies first), within a fixed budget of starts.
    """
    knots = sorted((sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1),
                   key=lambda knot: (-len(knot), knot[0]))
    found: dict[tuple[str, ...], None] = {}
    starts = 0
    for knot in knots:
        members = set(knot)
        for start in knot:
            if len(found) >= CYCLES_LISTED or starts >= CYCLE_SEARCH_STARTS:
                break
            starts += 1
            cycle = _shortest_cycle_through(following, start, members)
            if cycle:
                found.setdefault(tuple(_rotated(cycle)), None)
    cycles = sorted((list(cycle) for cycle in found), key=lambda cycle: (len(cycle), cycle))
    return cycles, len(knots)


def _most_depended_on(graph: _Graph) -> list[tuple[str, int]]:
    degrees = ((graph.in_degree(node), key) for node, key in enumerate(graph.keys))
    ranked = heapq.nsmallest(TOP_DEPENDED_ON, ((-degree, key) for degree, key in degrees
                                               if degree > 0))
    return [(key, -negative) for negative, key in ranked]


class PerAsset(Mapping[str, dict]):
    """key -> {"name", "depends_on", "depended_on_by", "group"} for every asset in the
    graph, each entry built when asked for: a million assets' entries would cost more
    memory than the graph itself, and the flow reads each once."""

    def __init__(self, graph: _Graph, group_of: array) -> None:
        self.graph = graph
        self.group_of = group_of
        self.names: dict[str, str] = {}  # only the names that differ from their key

    def __getitem__(self, key: str) -> dict:
        node = self.graph.nodes[key]
        return {"name": self.names.get(key, key),
                "depends_on": self.graph.sorted_keys(self.graph.successors(node)),
                "depended_on_by": self.graph.sorted_keys(self.graph.predecessors(node)),
                "group": self.group_of[node]}

    def __iter__(self) -> Iterator[str]:
        return iter(self.graph.keys)

    def __len__(self) -> int:
        return len(self.graph)

    def name_of(self, key: str) -> str:
        """The asset's name (what `self[key]["name"]` says, without listing neighbours)."""
        if key not in self.graph.nodes:
            raise KeyError(key)
        return self.names.get(key, key)


def analyse_dependencies(assets: Iterable[Mapping],
                         connections: Iterable[Mapping] = ()) -> DependencyResult:
    """The dependency graph of `assets` and what it says.

    Each asset is a mapping with "key" (its identity), "name", "hostname", "fqdn",
    "ip_address" and "depends_on" (references: names, hostnames, FQDNs or IPs, optionally
    with ":port").  `connections` rows are {"source", "target", "port"} (names, hosts or
    IPs).  `per_asset` lists the assets with a dependency either way (`NO_DEPENDENCIES`
    stands for any other); `per_asset[key]["group"]` is the index of its move group in
    `groups`.

    `assets` is read four times (see the module docstring), so it may be a view that
    streams them from storage each time: only the identifiers the references ask for and
    the graph of the assets that have dependencies are held, never every asset.
    """
    connections = list(connections)  # read twice
    with collector_paused():
        resolver = _Resolver(assets, _asked_for(assets, connections))
        edges = _Edges()
        _declared_edges(assets, resolver, edges)
        _connection_edges(connections, resolver, edges)
        count = resolver.assets
        del resolver  # gone before the graph is read
        graph = _Graph(edges)
        groups, group_of, alone = _components(graph, count)
        core = _cyclic_core(graph)
        cycles, knots = _cycles(core, core.succ)
        per_asset = PerAsset(graph, group_of)
        for asset in assets:  # names that differ from their key (the last asset's wins)
            key, name = asset["key"], asset.get("name")
            if key in graph.nodes:
                if name and name != key:
                    per_asset.names[key] = name
                else:
                    per_asset.names.pop(key, None)
    stats = {
        "assets": count, "edges": len(edges.attrs),
        "groups": len(groups), "largest_group": len(groups[0]) if groups else 0,
        "cycles": len(cycles), "cyclic_groups": knots,
        "cycles_truncated": len(cycles) >= CYCLES_LISTED,
        "isolated": alone, "unresolved": len(edges.unresolved),
    }
    return DependencyResult(
        edges=edges.listed(), per_asset=per_asset, groups=groups,
        cycles=cycles, most_depended_on=_most_depended_on(graph),
        unresolved=list(edges.unresolved), stats=stats)


# ---------------------------------------------------------------------------------------
# The picture

SVG_WIDTH, SVG_HEIGHT, SVG_MARGIN = 960, 640, 40
CELL_PADDING = 30          # room for labels around each group's cell
LABEL_ALL_BELOW = 40       # with fewer nodes every node is labelled, else only hubs
LABEL_MAX_CHARS = 24
GROUP_FILLS = ("#206bc4", "#2fb344", "#f59f00", "#ae3ec9", "#17a2b8", "#d6336c",
               "#74b816", "#f76707")
EDGE_STROKE, CYCLE_STROKE, LABEL_FILL = "#8a94a6", "#d63939", "#1f2937"


def _best_connected(result: DependencyResult, group: list[str], count: int) -> list[str]:
    def rank(key: str) -> tuple[int, str]:
        entry = result.per_asset.get(key, {})
        return -(len(entry.get("depends_on", ())) + len(entry.get("depended_on_by", ()))), key
    return sorted(sorted(group, key=rank)[:count])


def _chosen_groups(result: DependencyResult, max_nodes: int) -> list[list[str]]:
    """The largest move groups that fit in `max_nodes` together; when even the largest
    does not, its `max_nodes` best-connected assets."""
    chosen: list[list[str]] = []
    room = max_nodes
    for group in result.groups:
        if len(group) <= room:
            chosen.append(group)
            room -= len(group)
        elif not chosen:
            return [_best_connected(result, group, max_nodes)]
    return chosen


def _unit_layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Positions in the unit square: spring layout with a fixed seed, or a circle when
    numpy (which networkx's layouts need) is missing."""
    nodes = list(graph)
    try:
        raw = {node: (float(x), float(y))
               for node, (x, y) in nx.spring_layout(graph, seed=42).items()}
    except ImportError:
        step = 2 * math.pi / max(1, len(nodes))
        raw = {node: (math.cos(i * step), math.sin(i * step)) for i, node in enumerate(nodes)}
    xs, ys = [x for x, _ in raw.values()], [y for _, y in raw.values()]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return {node: ((x - min(xs)) / span_x, (y - min(ys)) / span_y)
            for node, (x, y) in raw.items()}


def _grid_layout(graph: nx.DiGraph, groups: list[list[str]]) -> dict[str, tuple[float, float]]:
    """Each group laid out on its own, in its own cell of a grid (largest first), so small
    groups are not squeezed into a corner by a big one."""
    columns = math.ceil(math.sqrt(len(groups)))
    rows = math.ceil(len(groups) / columns)
    width = (SVG_WIDTH - 2 * SVG_MARGIN) / columns
    height = (SVG_HEIGHT - 2 * SVG_MARGIN - 20) / rows
    points: dict[str, tuple[float, float]] = {}
    for index, group in enumerate(groups):
        left = SVG_MARGIN + (index % columns) * width
        top = SVG_MARGIN + (index // columns) * height
        for node, (x, y) in _unit_layout(graph.subgraph(group)).items():
            points[node] = (left + CELL_PADDING + x * (width - 2 * CELL_PADDING),
                            top + CELL_PADDING + y * (height - 2 * CELL_PADDING))
    return points


def _radius(in_degree: int) -> float:
    return min(22.0, 5.0 + 3.0 * math.sqrt(in_degree))


def _label(text: str) -> str:
    short = text if len(text) <= LABEL_MAX_CHARS else text[:LABEL_MAX_CHARS - 1] + "\u2026"
    return html.escape(short)


def _edge_svg(start: tuple[float, float], end: tuple[float, float], end_radius: float,
              in_cycle: bool) -> str:
    (x1, y1), (x2, y2) = start, end
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    x2, y2 = x2 - (x2 - x1) * end_radius / length, y2 - (y2 - y1) * end_radius / length
    css, stroke = ("dep-edge dep-edge-cycle", CYCLE_STROKE) if in_cycle \
        else ("dep-edge", EDGE_STROKE)
    return (f'<line class="{css}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{stroke}" stroke-width="1.2" marker-end="url(#dep-arrow)"/>')


def _node_svg(key: str, point: tuple[float, float], entry: Mapping, show_label: bool) -> str:
    x, y = point
    in_degree = len(entry.get("depended_on_by", ()))
    radius = _radius(in_degree)
    group = entry.get("group")
    fill = GROUP_FILLS[group % len(GROUP_FILLS)] if group is not None else EDGE_STROKE
    name = str(entry.get("name") or key)
    title = html.escape(f"{name}: depends on {len(entry.get('depends_on', ()))}, "
                        f"depended on by {in_degree}")
    parts = [f'<g class="dep-node"><title>{title}</title>',
             f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{fill}" '
             f'stroke="#ffffff" stroke-width="1"/>']
    if show_label:
        parts.append(f'<text class="dep-label" x="{x:.1f}" y="{y - radius - 3:.1f}" '
                     f'font-size="10" text-anchor="middle" fill="{LABEL_FILL}">'
                     f'{_label(name)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _svg_document(body: Iterable[str], caption: str) -> str:
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dep-graph" role="img" '
        f'viewBox="0 0 {SVG_WIDTH} {SVG_HEIGHT}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet">',
        f"<title>{html.escape(caption)}</title>",
        '<defs><marker id="dep-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{EDGE_STROKE}"/></marker></defs>',
        *body,
        f'<text class="dep-caption" x="{SVG_MARGIN}" y="{SVG_HEIGHT - 12}" font-size="12" '
        f'fill="{LABEL_FILL}">{html.escape(caption)}</text>',
        "</svg>",
    ])


def graph_svg(result: DependencyResult, max_nodes: int = 150) -> str:
    """A static SVG picture of the largest move groups (at most `max_nodes` assets).

    Nodes are sized by how many assets depend on them and coloured by move group; edges in
    a cycle are red; every label is HTML-escaped; no script and no style attributes.
    """
    groups = _chosen_groups(result, max_nodes)
    if not groups:
        return _svg_document([], "No dependencies between the assets were found.")
    nodes = [key for group in groups for key in group]
    chosen = set(nodes)
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((src, dst) for src, dst, _ in result.edges
                         if src in chosen and dst in chosen)
    points = _grid_layout(graph, groups)
    in_cycles = {(cycle[i], cycle[(i + 1) % len(cycle)])
                 for cycle in result.cycles for i in range(len(cycle))}
    label_all = len(nodes) < LABEL_ALL_BELOW
    body = [_edge_svg(points[src], points[dst],
                      _radius(len(result.per_asset.get(dst, {}).get("depended_on_by", ()))),
                      (src, dst) in in_cycles)
            for src, dst in graph.edges()]
    for key in nodes:
        entry = result.per_asset.get(key, {"name": key})
        show = label_all or len(entry.get("depended_on_by", ())) > 1
        body.append(_node_svg(key, points[key], entry, show))
    caption = (f"Showing {len(nodes)} of {result.stats.get('assets', len(nodes))} assets "
               f"in {len(groups)} of {len(result.groups)} move groups")
    return _svg_document(body, caption)
