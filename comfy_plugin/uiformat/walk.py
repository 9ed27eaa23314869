"""Every node reached from the root graph through subgraph instances, depth first in file
order, without recursion (the nesting depth comes from the file) and with a bound on the
nodes the expansion makes (each instance copies its definition: two instances a level make
2**depth nodes from a few kilobytes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import RecursiveSubgraph, TooManyNodes
from ..settings import MAX_UI_NODES
from .graph import Graph, Node, Workflow


@dataclass(frozen=True)
class Reached:
    """One node as the walk reaches it: its graph, the ids of the instances it is inside
    (``path``) and their subgraph ids (``chain``)."""

    graph: Graph
    node: Node
    path: tuple[str, ...]
    chain: tuple[str, ...]

    @property
    def flat_id(self) -> str:
        return ":".join((*self.path, self.node.id))


def recursion(workflow: Workflow, node: Node, chain: tuple[str, ...]) -> RecursiveSubgraph:
    names = " > ".join(f"'{workflow.subgraphs[s].name}'" for s in (*chain, node.type))
    return RecursiveSubgraph(workflow.source, f"subgraph '{workflow.subgraphs[node.type].name}' contains an instance "
                             f"of itself ({names})", node.label(),
                             "a subgraph cannot hold itself: remove that instance")


def too_many(workflow: Workflow, max_nodes: int) -> TooManyNodes:
    return TooManyNodes(workflow.source, f"its subgraph instances expand to more than {max_nodes} nodes (each instance "
                        "holds a copy of its subgraph's nodes, and subgraphs nested in subgraphs multiply)", "",
                        "if the workflow really is this large, raise the limit: --comfy-max-nodes (ini "
                        "comfy_max_nodes) for pytest, --max-nodes for python -m comfy_plugin convert")


def reach(workflow: Workflow, max_nodes: int = MAX_UI_NODES, once: bool = False,
          descend: Callable[[Node], bool] = lambda node: True) -> Iterator[Reached]:
    """Each node, then (when ``descend`` says so) the nodes of its subgraph. ``once``: each
    definition is entered once (a check of definitions, not an expansion). Raises
    ``RecursiveSubgraph`` for a subgraph inside itself and ``TooManyNodes`` past ``max_nodes``."""
    stack: list[tuple[Iterator[Node], Graph, tuple[str, ...], tuple[str, ...]]] = [
        (iter(workflow.root.nodes.values()), workflow.root, (), ())]
    active: set[str] = set()
    entered: set[str] = set()
    count = 0
    while stack:
        nodes, graph, path, chain = stack[-1]
        node = next(nodes, None)
        if node is None:
            stack.pop()
            if chain:
                active.discard(chain[-1])
            continue
        count += 1
        if count > max_nodes:
            raise too_many(workflow, max_nodes)
        yield Reached(graph, node, path, chain)
        definition = workflow.subgraphs.get(node.type)
        if definition is None or not descend(node):
            continue
        if node.type in active:
            raise recursion(workflow, node, chain)
        if once and node.type in entered:
            continue
        entered.add(node.type)
        active.add(node.type)
        stack.append((iter(definition.nodes.values()), definition, (*path, node.id), (*chain, node.type)))
