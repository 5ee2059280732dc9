"""Dependency analysis: resolving references, move groups, cycles, hubs and the picture."""
import json
import random
import time
import xml.etree.ElementTree as ET

from portal.discovery.dependencies import (
    CYCLES_LISTED, TOP_DEPENDED_ON, VIA_CONNECTION, VIA_DEPENDS_ON, analyse_dependencies,
    graph_svg)

SVG = "{http://www.w3.org/2000/svg}"


def asset(key, depends_on=(), **identifiers):
    return {"key": key, "name": identifiers.pop("name", key.upper()), **identifiers,
            "depends_on": list(depends_on)}


def edge_pairs(result):
    return [(src, dst) for src, dst, _ in result.edges]


def test_references_resolve_by_name_hostname_fqdn_and_ip():
    assets = [
        asset("web", ["APP", "db01.corp.example.com", "10.0.0.9", "cache01", "files.corp"]),
        asset("app", name="App"),
        asset("db", hostname="DB01", fqdn="db01.corp.example.com"),
        asset("nas", ip_address="10.0.0.9"),
        asset("cache", hostname="cache01.corp.example.com"),
        asset("files", hostname="files"),  # "files.corp" is found by its first label
    ]
    result = analyse_dependencies(assets)
    assert edge_pairs(result) == [("web", "app"), ("web", "db"), ("web", "nas"),
                                  ("web", "cache"), ("web", "files")]
    assert all(attrs == {"ports": [], "via": VIA_DEPENDS_ON} for _, _, attrs in result.edges)
    assert result.unresolved == []


def test_unresolved_references_are_reported_not_dropped():
    assets = [asset("web", ["db", "ghost", "10.9.9.9"]), asset("db")]
    result = analyse_dependencies(assets)
    assert edge_pairs(result) == [("web", "db")]
    assert result.unresolved == [("web", "ghost"), ("web", "10.9.9.9")]
    assert result.stats["unresolved"] == 2


def test_a_reference_with_a_port_keeps_the_port_and_self_references_are_no_edge():
    assets = [asset("app", ["db01:5432", "app"]), asset("db", hostname="db01")]
    result = analyse_dependencies(assets)
    assert result.edges == [("app", "db", {"ports": [5432], "via": VIA_DEPENDS_ON})]


def test_move_groups_are_weak_components_largest_first_with_singletons_counted():
    assets = [asset("a", ["b"]), asset("b", ["c"]), asset("c"), asset("x", ["y"]),
              asset("y"), asset("lonely"), asset("d", ["c"])]
    result = analyse_dependencies(assets)
    assert result.groups == [["a", "b", "c", "d"], ["x", "y"]]
    assert result.stats == {"assets": 7, "edges": 4, "groups": 2, "largest_group": 4,
                            "cycles": 0, "cyclic_groups": 0, "cycles_truncated": False,
                            "isolated": 1, "unresolved": 0}
    assert result.per_asset["c"] == {"name": "C", "depends_on": [],
                                     "depended_on_by": ["b", "d"], "group": 0}
    assert result.per_asset["y"]["group"] == 1
    assert "lonely" not in result.per_asset  # only assets with a dependency either way


def test_cycles_are_found_and_start_at_their_smallest_key():
    assets = [asset("c", ["a"]), asset("a", ["b"]), asset("b", ["c"]),     # 3-cycle
              asset("y", ["x"]), asset("x", ["y"]),                        # mutual
              asset("z", ["x"])]                                           # not in one
    result = analyse_dependencies(assets)
    assert result.cycles == [["x", "y"], ["a", "b", "c"]]
    assert result.stats["cycles"] == 2 and result.stats["cyclic_groups"] == 2


def test_cycles_behind_chains_and_between_knots_are_each_found():
    assets = [asset("entry", ["a"]), asset("a", ["b"]), asset("b", ["c"]),  # chain into a knot
              asset("c", ["a", "exit"]), asset("exit", ["d"]),             # knot to knot
              asset("d", ["e"]), asset("e", ["d", "sink"]), asset("sink"),  # knot to a sink
              asset("f", ["g"]), asset("g", ["f", "c"])]                   # knot into a knot
    result = analyse_dependencies(assets)
    assert result.cycles == [["d", "e"], ["f", "g"], ["a", "b", "c"]]
    assert result.stats["cyclic_groups"] == 3
    assert result.groups == [["a", "b", "c", "d", "e", "entry", "exit", "f", "g", "sink"]]


def test_assets_are_streamed_not_held():
    """`assets` may be a view that reads them again on each pass (as the flow's does)."""
    class Stream:
        def __iter__(self):
            yield from (asset("web", ["DB:5432"]), asset("db", name="Database"))

    result = analyse_dependencies(Stream())
    assert result.edges == [("web", "db", {"ports": [5432], "via": VIA_DEPENDS_ON})]
    assert result.per_asset.name_of("db") == "Database" == result.per_asset["db"]["name"]


def test_most_depended_on_ranks_by_in_degree_then_key():
    assets = [asset(f"app{i}", ["db", "auth"] if i < 3 else ["auth"]) for i in range(5)]
    assets += [asset("db"), asset("auth"), asset("idle")]
    result = analyse_dependencies(assets)
    assert result.most_depended_on == [("auth", 5), ("db", 3)]
    assert TOP_DEPENDED_ON == 20


def test_connections_add_edges_with_ports():
    assets = [asset("web", hostname="web01", ip_address="10.0.0.1"),
              asset("db", hostname="db01", ip_address="10.0.0.2", depends_on=[]),
              asset("app", ["db"])]
    connections = [
        {"source": "10.0.0.1", "target": "db01", "port": "5432"},
        {"source": "web01", "target": "10.0.0.2", "port": 5433},
        {"source": "app", "target": "db01.corp", "port": "1521"},   # also declared
        {"source": "unknown-host", "target": "db01", "port": "80"},
        {"source": "web01", "target": "", "port": "80"},            # incomplete row: skipped
    ]
    result = analyse_dependencies(assets, connections)
    assert result.edges == [
        ("app", "db", {"ports": [1521], "via": VIA_DEPENDS_ON}),    # declared beats observed
        ("web", "db", {"ports": [5432, 5433], "via": VIA_CONNECTION}),
    ]
    assert result.unresolved == [(None, "unknown-host")]


def test_result_is_json_ready():
    result = analyse_dependencies([asset("a", ["b", "nowhere"]), asset("b")])
    data = json.loads(json.dumps(result.as_dict()))
    assert data["edges"] == [["a", "b", {"ports": [], "via": "depends_on"}]]
    assert data["unresolved"] == [["a", "nowhere"]]
    assert data["groups"] == [["a", "b"]]


# ---------------------------------------------------------------------------------------
# The picture


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on malformed XML


def test_svg_is_well_formed_escaped_and_free_of_style_attributes():
    assets = [asset("evil", ["db"], name='<script>alert("x")</script>'),
              asset("db", name="R&D db"), asset("cache", ["db"], name="cache")]
    svg = graph_svg(analyse_dependencies(assets))
    root = _parse(svg)
    assert root.tag == f"{SVG}svg"
    assert "style=" not in svg and "<script" not in svg
    assert root.find(f".//{SVG}script") is None
    assert "&lt;script&gt;" in svg and "R&amp;D db" in svg
    assert len(root.findall(f".//{SVG}circle")) == 3
    assert len(root.findall(f".//{SVG}line")) == 2
    labels = [text.text for text in root.iter(f"{SVG}text") if text.get("class") == "dep-label"]
    # escaped in the markup, intact when read back (long labels are shortened with "…")
    assert '<script>alert("x")</scr\u2026' in labels and "R&D db" in labels
    for element in root.iter():
        assert not any(name.startswith("on") for name in element.attrib)


def test_svg_marks_cycle_edges_and_is_deterministic():
    assets = [asset("a", ["b"]), asset("b", ["a"]), asset("c", ["a"])]
    result = analyse_dependencies(assets)
    svg = graph_svg(result)
    assert svg == graph_svg(result)  # fixed seed: the same picture every time
    classes = [line.get("class") for line in _parse(svg).iter(f"{SVG}line")]
    assert sorted(classes) == ["dep-edge", "dep-edge dep-edge-cycle", "dep-edge dep-edge-cycle"]


def test_svg_keeps_to_max_nodes_and_says_so():
    assets = [asset(f"hub{g}") for g in range(10)]
    assets += [asset(f"n{g}-{i}", [f"hub{g}"]) for g in range(10) for i in range(20)]
    result = analyse_dependencies(assets)
    root = _parse(graph_svg(result, max_nodes=50))
    assert len(root.findall(f".//{SVG}circle")) == 42     # two groups of 21 fit in 50
    caption = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "dep-caption"]
    assert caption == ["Showing 42 of 210 assets in 2 of 10 move groups"]
    huge = analyse_dependencies([asset("hub")] + [asset(f"n{i}", ["hub"]) for i in range(300)])
    assert len(_parse(graph_svg(huge, max_nodes=150)).findall(f".//{SVG}circle")) == 150


def test_svg_without_dependencies_says_so():
    root = _parse(graph_svg(analyse_dependencies([asset("a"), asset("b")])))
    assert root.findall(f".//{SVG}circle") == []
    assert "No dependencies" in "".join(root.itertext())


# ---------------------------------------------------------------------------------------
# Scale


def test_100k_assets_and_150k_edges_stay_fast():
    rnd = random.Random(7)
    count = 100_000
    assets = [{"key": f"srv-{i:06d}", "name": f"SRV-{i:06d}", "hostname": f"srv-{i:06d}",
               "ip_address": f"10.{i >> 16}.{i >> 8 & 255}.{i & 255}", "depends_on": []}
              for i in range(count)]
    for n in range(150_000):
        target = rnd.randrange(count)
        reference = (f"SRV-{target:06d}" if n % 2
                     else f"10.{target >> 16}.{target >> 8 & 255}.{target & 255}")
        assets[rnd.randrange(count)]["depends_on"].append(reference)
    started = time.perf_counter()
    result = analyse_dependencies(assets)
    elapsed = time.perf_counter() - started
    assert result.stats["assets"] == count
    assert 149_000 < result.stats["edges"] <= 150_000     # a few self-loops and repeats
    assert result.stats["cycles"] <= CYCLES_LISTED
    assert elapsed < 30, f"dependency analysis took {elapsed:.1f}s"
