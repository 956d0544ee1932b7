"""The module graph of the gateway's own code: `config`, `providers` and `router` (and the leaf
types they share) depend on each other without a cycle. Test code (files named tests.rs, and
everything after `#[cfg(test)]` in a file) is left out: a test may build what it needs."""

import pathlib
import re

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"
WATCHED = ["config", "providers", "router", "deployment", "registry", "secret", "canonical", "upstream"]
USE = re.compile(r"crate::([a-z_]+)")


def module_of(path: pathlib.Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".rs")


def non_test_code(path: pathlib.Path) -> str:
    if path.name == "tests.rs" or "tests" in path.relative_to(SRC).parts[:-1]:
        return ""
    text = path.read_text()
    return text.split("#[cfg(test)]", 1)[0]


def edges() -> dict:
    graph = {m: set() for m in WATCHED}
    for path in SRC.rglob("*.rs"):
        source = module_of(path)
        if source not in graph:
            continue
        for target in USE.findall(non_test_code(path)):
            if target in graph and target != source:
                graph[source].add(target)
    return graph


def find_cycle(graph: dict):
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack + [node, nxt]
            if nxt not in state:
                found = visit(nxt, stack + [node])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in graph:
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_no_cycle_between_config_providers_and_router():
    graph = edges()
    assert find_cycle(graph) is None, f"cycle: {find_cycle(graph)}; graph: {graph}"
    # The direction of each dependency, spelled out.
    assert "config" not in graph["providers"] and "router" not in graph["providers"]
    assert "providers" not in graph["router"]
    assert "router" not in graph["config"]
    for leaf in ["deployment", "registry", "secret"]:
        assert not graph[leaf] & {"config", "providers", "router"}, (leaf, graph[leaf])


def test_the_checker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": set()}) is None
