"""The lecture's CNN: shapes on MNIST (28x28) and digits (8x8), config choices, training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bp_app.config.build import build_datamodule, build_model
from bp_app.config.checks import check_train_config
from bp_app.errors import ConfigError
from bp_app.models.cnn import CNN, CNNClassifier
from bp_app.train import train
from tests.conftest import FAST


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_lecture_cnn_on_mnist_shapes_and_size():
    net = CNN((1, 28, 28), 10)
    # Conv 3x3 valid: 28 -> 26; max pool 2: 26 -> 13; flatten 32 * 13 * 13.
    assert net.feature_shape == (32, 13, 13)
    assert net.flatten_size == 5408
    assert net(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    # Keras' summary of the same model: 320 + 692,352 + 1,290 parameters.
    assert count_parameters(net) == 693_962


def test_lecture_cnn_on_digits_shapes():
    net = CNN((1, 8, 8), 10)
    assert net.feature_shape == (32, 3, 3)  # 8 -> 6 -> 3
    assert net(torch.zeros(4, 1, 8, 8)).shape == (4, 10)


def test_layers_padding_batch_norm_and_dropout_from_config():
    net = CNN(
        (1, 28, 28),
        10,
        channels=[16, 32],
        kernel_sizes=[5, 3],
        padding="same",
        hidden_sizes=[64, 32],
        dropout=0.5,
        batch_norm=True,
    )
    assert net.feature_shape == (32, 7, 7)  # same padding keeps 28, pools give 14 then 7
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3)]
    assert all(c.bias is None for c in convs)  # batch norm's shift replaces the bias
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 3
    assert [m.out_features for m in net.modules() if isinstance(m, nn.Linear)] == [64, 32, 10]
    x = torch.randn(6, 1, 28, 28)
    net.train()
    assert not torch.equal(net(x), net(x))  # dropout is live in training
    net.eval()
    assert net(x).shape == (6, 10) and torch.equal(net(x), net(x))


def test_pool_size_one_turns_pooling_off():
    net = CNN((1, 8, 8), 10, pool_size=1)
    assert net.feature_shape == (32, 6, 6)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())


def test_too_many_layers_for_the_input_names_the_layer_and_the_fix():
    with pytest.raises(ValueError, match=r"8x8 input is used up by conv layer 2.*padding=same"):
        CNN((1, 8, 8), 10, channels=[32, 32, 32])


def test_kernel_sizes_must_match_the_layers():
    with pytest.raises(ValueError, match="kernel_sizes has 3 values but model.channels has 2"):
        CNN((1, 28, 28), 10, channels=[8, 8], kernel_sizes=[3, 3, 3])
    with pytest.raises(ValueError, match="padding='full' is unknown"):
        CNN((1, 28, 28), 10, padding="full")


def test_config_builds_the_classifier_with_plain_hparams(train_config):
    cfg = train_config(["model=cnn", "data=digits"])
    check_train_config(cfg)
    model = build_model(cfg, build_datamodule(cfg))
    assert isinstance(model, CNNClassifier) and model.input_kind == "images"
    assert model.net.flatten_size == 288
    # Plain containers only: checkpoints load with torch's weights_only unpickler.
    assert model.hparams["input_shape"] == [1, 8, 8]
    assert model.hparams["channels"] == [32]
    assert model.hparams["batch_norm"] is True  # conf/model/cnn.yaml: digits-friendly default


def test_seed_keras_cnn_is_the_lecture_model_and_run(train_config):
    cfg = train_config(["experiment=seed_keras_cnn"])
    check_train_config(cfg)
    model = build_model(cfg, build_datamodule(cfg))  # MNIST's shape is known before loading
    assert count_parameters(model.net) == 693_962
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert cfg.data._target_.endswith("MNISTDataModule") and cfg.data.batch_size == 128
    assert cfg.optimizer.name == "adam" and cfg.optimizer.lr == 1.0e-3
    assert cfg.trainer.max_epochs == 10


def test_config_typo_fails_naming_the_key(train_config):
    cfg = train_config(["model=cnn", "data=digits", "+model.chanels=[8]"])
    with pytest.raises(ConfigError, match=r"model\.chanels.*Did you mean 'channels'"):
        check_train_config(cfg)


def test_trains_on_digits_through_the_mixin(train_config, tmp_path):
    overrides = [o for o in FAST if not o.startswith("trainer.max_epochs")]
    cfg = train_config(
        [*overrides, "model=cnn", "data=digits", "trainer.max_epochs=4", "logger=none"]
    )
    metrics = train(cfg)
    # Chance is 0.1; four epochs (40 Adam steps) of the lecture's CNN get well past it.
    assert metrics["test/acc"] > 0.6
    # No TensorBoard: the pictures still land in the run directory.
    images = tmp_path / "run" / "images"
    assert (images / "confusion_matrix.png").is_file()
    assert (images / "val_samples_epoch003.png").is_file()
