"""A picture for every concept: the computation graph, gradient norms per layer, penalties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from bp_app.backprop import graph as graph_module
from bp_app.backprop.graph import mlp_graph, to_graphviz, to_text
from bp_app.callbacks.lecture_figures import computation_graph_figure, render_rgb
from bp_app.optim.penalty_report import compare_penalties
from bp_app.train import train


def tiny_net(seed: int = 0) -> tuple[nn.ModuleList, nn.Module]:
    torch.manual_seed(seed)
    return nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 2)]), nn.Sigmoid()


def test_graph_values_and_gradients_are_the_lectures_equations():
    layers, sigmoid = tiny_net()
    x, y = torch.tensor([0.5, -1.0]), 1
    graph = mlp_graph(list(layers), sigmoid, x, y)
    value = {n.name: n.value for n in graph.nodes}
    grad = {n.name: n.grad for n in graph.nodes}

    # Forward: z_1 = W_1 x + b_1, a_1 = σ(z_1), z_2 = W_2 a_1 + b_2, L = −log softmax(z_2)_y.
    z1 = layers[0](x)
    a1 = torch.sigmoid(z1)
    z2 = layers[1](a1)
    assert [value[f"a1[{j}]"] for j in range(3)] == pytest.approx(a1.tolist(), abs=1e-6)
    assert value["L (y=1)"] == pytest.approx(float(F.cross_entropy(z2[None], torch.tensor([y]))))
    # Backward: ∂L/∂z_2 = p − onehot(y); ∂L/∂z_1 = (W_2ᵀ ∂L/∂z_2) ⊙ σ'(z_1).
    delta2 = torch.softmax(z2, 0) - F.one_hot(torch.tensor(y), 2)
    assert [grad[f"z2[{j}]"] for j in range(2)] == pytest.approx(delta2.tolist(), abs=1e-6)
    delta1 = (layers[1].weight.T @ delta2) * a1 * (1 - a1)
    assert [grad[f"z1[{j}]"] for j in range(3)] == pytest.approx(delta1.tolist(), abs=1e-6)
    # ∂L/∂W matches autograd on the module itself, edge by edge; ∂L/∂b = δ.
    F.cross_entropy(z2[None], torch.tensor([y])).backward()
    edges = {(e.source, e.target): e.grad for e in graph.edges}
    assert len(edges) == 2 * 3 + 3 * 2
    for j in range(3):
        for i in range(2):
            expected = layers[0].weight.grad[j, i].item()
            assert edges[(f"x[{i}]", f"z1[{j}]")] == pytest.approx(expected, abs=1e-6)
        assert graph.biases[f"z1[{j}]"][1] == pytest.approx(layers[0].bias.grad[j].item())

    text = to_text(graph)
    assert "a1[2]" in text and "x[1] -> z1[2]" in text
    source = to_graphviz(graph).source
    assert "rankdir=LR" in source and '"z1[0]" -> "a1[0]"' in source
    rgb = render_rgb(computation_graph_figure(graph))
    assert rgb.ndim == 3 and rgb.std() > 0  # something drawn


def test_graph_refuses_a_net_too_big_to_read():
    layers = [nn.Linear(64, 128), nn.Linear(128, 10)]
    with pytest.raises(ValueError, match="up to 40 units.*experiment=backprop_graph"):
        mlp_graph(layers, nn.ReLU(), torch.zeros(64), 0)


def test_backprop_graph_run_writes_its_pictures(train_config, tmp_path, monkeypatch):
    """One short run: the graph (PNG, .gv, .txt) and the gradient norms, files and TensorBoard."""
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)  # as here: no `dot`
    cfg = train_config(
        [
            "experiment=backprop_graph",
            "trainer.max_epochs=1",
            "data.num_train=40",
            "trainer.accelerator=cpu",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            "callbacks.gradient_flow.every_n_steps=10",
        ]
    )
    train(cfg)
    images = tmp_path / "run" / "images"
    for name in ("computation_graph.png", "gradient_norms.png"):
        with Image.open(images / name) as picture:
            assert picture.size[0] > 300 and np.asarray(picture).std() > 0
    assert "x[0] -> z1[0]" in (images / "computation_graph.txt").read_text()
    assert "digraph backprop" in (images / "computation_graph.gv").read_text()
    images_tags, tensor_tags = set(), set()
    for event_file in (tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"):
        events = EventAccumulator(str(event_file), size_guidance={"images": 0, "tensors": 0})
        events.Reload()
        images_tags |= set(events.Tags()["images"])
        tensor_tags |= set(events.Tags()["tensors"])
    assert {"backprop/computation_graph", "grad_norm/picture"} <= images_tags
    assert "backprop/computation_graph/text_summary" in tensor_tags


def fake_run(root: Path, name: str, kind: str, l1: float, l2: float, weights: torch.Tensor):
    """A run directory as bp-train leaves it: .hydra/config.yaml and checkpoints/last.ckpt."""
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    config = {"regularization": {"name": kind, "strength": max(l1, l2), "l1": l1, "l2": l2}}
    OmegaConf.save(OmegaConf.create(config), run / ".hydra" / "config.yaml")
    state = {"net.layers.0.weight": weights, "net.layers.0.bias": torch.zeros(weights.shape[0])}
    torch.save({"state_dict": state}, run / "checkpoints" / "last.ckpt")
    return run


def test_penalty_picture_reads_each_runs_weights(tmp_path):
    dense = torch.full((4, 5), 0.2)
    sparse = dense.clone()
    sparse[:2] = 1e-5  # 10 of 20 weights below the 1e-3 line
    runs = [
        (fake_run(tmp_path, "0", "l1", 0.0, 0.0, dense), "none"),
        (fake_run(tmp_path, "1", "l1", 1e-3, 0.0, sparse), "l1"),
        (fake_run(tmp_path, "2", "l2", 0.0, 1e-3, dense), "l2"),
    ]
    out = tmp_path / "compare_regularization.png"
    result = compare_penalties(runs, out)
    assert [(r.kind, r.strength, r.sparsity) for r in result] == [
        ("none", 0.0, 0.0),
        ("l1", 1e-3, 0.5),
        ("l2", 1e-3, 0.0),
    ]
    with Image.open(out) as picture:
        assert picture.size == (1200, 460)
    # Runs that share one penalty draw nothing.
    assert compare_penalties(runs[:1], tmp_path / "none.png") is None
