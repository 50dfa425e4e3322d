"""The computation graph of a small MLP on one example: every node's value and gradient.

For one example x with class y, the forward pass and its back propagation, unit by unit:

    z_l = W_l a_{l-1} + b_l        a_l = σ(z_l)        a_0 = x
    p = softmax(z_L)               L = −log p_y
    ∂L/∂z_L = p − onehot(y)        ∂L/∂a_{l-1} = W_lᵀ ∂L/∂z_l        ∂L/∂z_l = ∂L/∂a_l ⊙ σ'(z_l)
    ∂L/∂W_l[j, i] = ∂L/∂z_l[j] · a_{l-1}[i]                        ∂L/∂b_l[j] = ∂L/∂z_l[j]

Autograd computes the gradients here (the hand-derived ones are tested against it elsewhere);
this module lays them out as a graph: graphviz source, a PNG, and plain text.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

# Beyond this many units a per-unit graph is unreadable.
MAX_UNITS = 40


@dataclass
class Node:
    """One scalar of the computation: its value and ∂L/∂(it)."""

    name: str
    layer: int  # the column it is drawn in: 0 inputs, then z_1, a_1, z_2, ..., then L
    value: float
    grad: float


@dataclass
class Edge:
    """A weight W_l[j, i] from a_{l-1}[i] to z_l[j], with its value and ∂L/∂W_l[j, i]."""

    source: str
    target: str
    weight: float
    grad: float


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    biases: dict[str, tuple[float, float]] = field(default_factory=dict)  # z node -> (b, ∂L/∂b)


def count_units(layers: list[torch.nn.Linear]) -> int:
    return layers[0].in_features + sum(2 * layer.out_features for layer in layers)


def mlp_graph(layers: list[torch.nn.Linear], activation: torch.nn.Module, x: Tensor, y: int):
    """The graph of ``layers`` (with ``activation`` between them) on one example ``x``."""
    if count_units(list(layers)) > MAX_UNITS:
        raise ValueError(
            f"the computation graph is drawn for nets of up to {MAX_UNITS} units; this one has "
            f"{count_units(list(layers))} (use a tiny MLP, e.g. experiment=backprop_graph)"
        )
    a = x.detach().double().flatten().requires_grad_(True)  # a_0 = x, (d,)
    params = [(layer.weight.detach().double(), layer.bias.detach().double()) for layer in layers]
    params = [(w.requires_grad_(True), b.requires_grad_(True)) for w, b in params]
    values: list[tuple[str, int, Tensor]] = [("x", 0, a)]
    for l, (w, b) in enumerate(params, start=1):
        z = w @ a + b  # z_l = W_l a_{l-1} + b_l
        values.append((f"z{l}", 2 * l - 1, z))
        if l < len(params):
            a = activation(z)  # a_l = σ(z_l)
            values.append((f"a{l}", 2 * l, a))
    loss = F.cross_entropy(z.unsqueeze(0), torch.tensor([y]))  # L = −log softmax(z_L)_y
    tensors = [t for _, _, t in values] + [t for pair in params for t in pair]
    grads = torch.autograd.grad(loss, tensors)
    grad_of = {id(t): g for t, g in zip(tensors, grads, strict=True)}

    graph = Graph()
    for name, column, t in values:
        for j, (v, g) in enumerate(zip(t.tolist(), grad_of[id(t)].tolist(), strict=True)):
            graph.nodes.append(Node(f"{name}[{j}]", column, v, g))
    graph.nodes.append(Node(f"L (y={y})", 2 * len(params), float(loss), 1.0))
    for l, (w, b) in enumerate(params, start=1):
        source = "x" if l == 1 else f"a{l - 1}"
        gw, gb = grad_of[id(w)], grad_of[id(b)]
        for j in range(w.shape[0]):
            graph.biases[f"z{l}[{j}]"] = (float(b[j]), float(gb[j]))
            for i in range(w.shape[1]):
                graph.edges.append(
                    Edge(f"{source}[{i}]", f"z{l}[{j}]", float(w[j, i]), float(gw[j, i]))
                )
    return graph


def node_label(graph: Graph, node: Node) -> str:
    label = f"{node.name}\nvalue {node.value:+.4f}\ngrad {node.grad:+.4f}"
    if node.name in graph.biases:
        b, gb = graph.biases[node.name]
        label += f"\nb {b:+.3f} (grad {gb:+.4f})"
    return label


def to_text(graph: Graph) -> str:
    """The graph as lines a terminal shows: nodes by column, then every weight."""
    lines = ["node            value       dL/d(node)"]
    lines += [f"{n.name:<12} {n.value:+10.5f}  {n.grad:+12.6f}" for n in graph.nodes]
    lines.append("")
    lines.append("weight                  value       dL/dW")
    for e in graph.edges:
        lines.append(f"{e.source + ' -> ' + e.target:<20} {e.weight:+10.5f}  {e.grad:+12.6f}")
    lines.append("")
    lines.append("bias            value       dL/db")
    lines += [f"{k:<12} {b:+10.5f}  {g:+12.6f}" for k, (b, g) in graph.biases.items()]
    return "\n".join(lines) + "\n"


def to_graphviz(graph: Graph):
    """A graphviz.Digraph, left to right, nodes labelled with value and gradient."""
    import graphviz

    dot = graphviz.Digraph("backprop", graph_attr={"rankdir": "LR", "fontsize": "10"})
    for node in graph.nodes:
        dot.node(node.name, node_label(graph, node), shape="box", fontsize="9")
    for e in graph.edges:
        dot.edge(e.source, e.target, label=f"w {e.weight:+.2f}\ng {e.grad:+.3f}", fontsize="7")
    last = max(n.layer for n in graph.nodes)
    for node in graph.nodes:
        if node.layer == last - 1:  # the logits feed the loss
            dot.edge(node.name, graph.nodes[-1].name)
    for node in graph.nodes:  # a_l = σ(z_l): one edge per unit
        if node.name.startswith("a"):
            dot.edge(f"z{node.name[1:]}", node.name, label="σ", fontsize="8")
    return dot


def can_render_dot() -> bool:
    """The graphviz package only writes source; PNGs need its ``dot`` program."""
    return shutil.which("dot") is not None
