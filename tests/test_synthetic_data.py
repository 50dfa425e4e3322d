"""data=synthetic: generated MNIST-shaped images that are reproducible and learnable."""

from __future__ import annotations

import pytest
import torch

from bp_app.data.synthetic import SyntheticImagesDataModule


def small(**kwargs) -> SyntheticImagesDataModule:
    return SyntheticImagesDataModule(num_train=2000, num_val=100, num_test=500, **kwargs)


def test_splits_have_the_configured_shapes_and_are_reproducible():
    splits = small().load_splits()
    x, y = splits["train"]
    assert x.shape == (2000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (2000,) and int(y.min()) >= 0 and int(y.max()) <= 9
    assert len(splits["val"][0]) == 100 and len(splits["test"][0]) == 500
    again = small().load_splits()
    assert all(torch.equal(a, b) for a, b in zip(splits["test"], again["test"], strict=True))
    other = small(data_seed=1).load_splits()
    assert not torch.equal(splits["test"][0], other["test"][0])
    assert small().model_inputs() == {"input_shape": [1, 28, 28], "num_classes": 10}


def test_classes_are_learnable_from_the_training_split():
    splits = small().load_splits()
    x, y = splits["train"]
    means = torch.stack([x[y == c].mean(0).flatten() for c in range(10)])  # (K, C*H*W)
    x_test, y_test = splits["test"]
    # Nearest class mean, the Bayes rule for equal-variance Gaussian classes.
    predicted = torch.cdist(x_test.flatten(1), means).argmin(1)
    assert (predicted == y_test).float().mean() > 0.9


def test_bad_sizes_name_the_key():
    with pytest.raises(ValueError, match="data.num_train"):
        SyntheticImagesDataModule(num_train=0)
    with pytest.raises(ValueError, match="data.image_shape"):
        SyntheticImagesDataModule(image_shape=[28, 28])
