"""The lecture's three listings as experiments: layers, sizes, init, optimizer, batches, updates.

The listings' numbers: PyTorch Net 784-128-10 (101,770 parameters), ten full-batch Adam steps;
Keras MLP 784-64-10 (50,890), Keras CNN (693,962), each fit for 10 epochs of batch 128 with
Keras' Adam (epsilon 1e-7) and Glorot-uniform kernels with zero biases, no validation data.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bp_app.config.build import build_datamodule, build_model
from bp_app.config.checks import check_train_config
from bp_app.models.init import initialize
from bp_app.optim.optimizers import Adam
from bp_app.train import train
from tests.fake_mnist import write_fake_mnist

MNIST_TRAIN = 60_000


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("mnist")
    write_fake_mnist(root, n_train=600, n_test=200)
    return str(root)


def built(train_config, mnist_root: str, experiment: str, *extra: str):
    cfg = train_config([f"experiment={experiment}", f"data.root={mnist_root}", *extra])
    check_train_config(cfg)
    datamodule = build_datamodule(cfg)
    return cfg, datamodule, build_model(cfg, datamodule)


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def linear_shapes(model: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def updates_per_epoch(cfg) -> int:
    """The listing's updates per epoch on MNIST's 60,000 training images."""
    if cfg.descent.mode == "batch":
        return 1
    return math.ceil((MNIST_TRAIN - cfg.data.val_size) / cfg.data.batch_size)


def test_pytorch_listing_is_ten_full_batch_adam_steps_on_all_images(train_config, mnist_root):
    cfg, datamodule, model = built(train_config, mnist_root, "seed_pytorch_mlp")
    assert linear_shapes(model) == [(784, 128), (128, 10)]
    assert parameters(model) == 101_770
    assert isinstance(model.net.activation, nn.ReLU)
    assert cfg.model.init == "torch_default"
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.eps) == ("adam", 1e-3, 1e-8)
    assert list(cfg.optimizer.betas) == [0.9, 0.999]
    assert cfg.descent.mode == "batch" and cfg.data.val_size == 0
    assert cfg.trainer.max_epochs * updates_per_epoch(cfg) == 10
    assert cfg.trainer.limit_val_batches == 0


@pytest.mark.parametrize(
    ("experiment", "shapes", "count"),
    [
        ("seed_keras_mlp", [(784, 64), (64, 10)], 50_890),
        ("seed_keras_cnn", [(5408, 128), (128, 10)], 693_962),
    ],
)
def test_keras_listings_use_keras_defaults(train_config, mnist_root, experiment, shapes, count):
    cfg, datamodule, model = built(train_config, mnist_root, experiment)
    assert linear_shapes(model) == shapes
    assert parameters(model) == count
    assert cfg.model.init == "glorot_uniform"
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert layer.weight.abs().max() <= bound
            assert layer.weight.abs().max() > 0.9 * bound  # drawn across the whole range
            assert torch.count_nonzero(layer.bias) == 0
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.eps) == ("adam", 1e-3, 1e-7)
    assert list(cfg.optimizer.betas) == [0.9, 0.999]
    assert cfg.descent.mode == "minibatch" and cfg.data.batch_size == 128
    assert cfg.data.val_size == 0 and cfg.trainer.limit_val_batches == 0
    assert cfg.trainer.max_epochs == 10
    assert cfg.trainer.max_epochs * updates_per_epoch(cfg) == 4_690
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, Adam) and optimizer.defaults["eps"] == 1e-7


def test_keras_cnn_layers(train_config, mnist_root):
    _, _, model = built(train_config, mnist_root, "seed_keras_cnn")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 32, (3, 3), (0, 0))
    ]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 1
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 2
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in model.modules())


def test_minibatch_variant_says_so(train_config, mnist_root):
    cfg, _, model = built(train_config, mnist_root, "seed_pytorch_mlp_minibatch")
    assert parameters(model) == 101_770
    assert cfg.descent.mode == "minibatch" and cfg.data.batch_size == 128
    assert cfg.data.val_size == 5000
    assert cfg.trainer.max_epochs * updates_per_epoch(cfg) == 4_300


def test_pytorch_listing_runs_ten_updates_and_tests_final_weights(
    train_config, mnist_root, tmp_path
):
    """On a small MNIST in the real IDX format: every training image trains, 10 updates."""
    cfg = train_config(
        [
            "experiment=seed_pytorch_mlp",
            f"data.root={mnist_root}",
            "data.batch_size=256",  # 600 images in 3 chunks: still one update per epoch
            "trainer.accelerator=cpu",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
        ]
    )
    metrics = train(cfg)
    assert not any(key.startswith("val/") for key in metrics)  # nothing held out
    assert metrics["test/acc"] > 0.3  # ten Adam steps move a 101,770-weight net off chance
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 10


def test_init_schemes_draw_their_spreads():
    torch.manual_seed(0)
    layer = nn.Linear(800, 200)
    initialize(layer, "he_normal")
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 800), rel=0.03)
    assert layer.weight.abs().max() <= 2 * math.sqrt(2 / 800) / 0.87962566103423978 + 1e-6
    assert torch.count_nonzero(layer.bias) == 0
    initialize(layer, "glorot_uniform")
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.03)
    with pytest.raises(ValueError, match="model.init='xavier' is unknown; choose one of"):
        initialize(layer, "xavier")


@pytest.mark.parametrize(
    ("experiment", "mode", "batch"),
    [("seed_sigmoid_sgd", "stochastic", 1), ("seed_sigmoid_batch", "batch", None)],
)
def test_sigmoid_neuron_by_sgd_and_by_batch_gd(train_config, experiment, mode, batch):
    """a = σ(Wᵀx + b), plain SGD with the same η: one example per update, or all of them."""
    cfg = train_config([f"experiment={experiment}"])
    check_train_config(cfg)
    assert cfg.model.activation == "sigmoid"
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.momentum) == ("sgd", 0.1, 0.0)
    assert cfg.descent.mode == mode
    if batch is not None:
        assert cfg.data.batch_size == batch
