"""The autoencoder method: its network, its step and its scoring (the engine's parts are tested
for every method in test_method_contract.py)."""

import numpy as np
import pytest
import torch

from anomaly_lib.metrics import roc_report
from anomaly_lib.phantoms import draw_chest
from anomaly_lib.pixel_method import scored
from autoencoder_lib.method import SPEC, AutoencoderConfig, ConvAutoencoder, trained


def phantoms(rng, count, abnormal, lesion_scale=1.0):
    """Chest phantoms (count, 1, 32, 32) in [-1, 1]."""
    images = np.stack([draw_chest(rng, 32, abnormal, lesion_scale).image for _ in range(count)])
    return torch.from_numpy(images).float().div(127.5).sub(1).unsqueeze(1)


def test_it_squeezes_through_its_latent_and_checks_the_size():
    model = ConvAutoencoder(image_size=32, latent_size=5, width=4)
    assert model.to_latent.out_features == 5
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 1, 32, 32)
    with pytest.raises(ValueError, match="multiple of 16, got 40"):
        ConvAutoencoder(image_size=40)
    with pytest.raises(ValueError, match="--image_size must be a multiple of 16, ≥ 16, got 40; --lr must be"):
        AutoencoderConfig(image_size=40, lr=0.0)


def test_training_lowers_the_loss_and_ranks_lesions_above_normals(tmp_path):
    rng = np.random.default_rng(0)
    normals = phantoms(rng, 40, False)
    test = torch.cat([phantoms(rng, 16, False), phantoms(rng, 16, True, lesion_scale=2.0)])
    config = AutoencoderConfig(image_size=32, latent_size=8, width=8, batch_size=16, lr=3e-3, num_iters=60,
                               log_step=10, model_save_step=60, save_dir=str(tmp_path))
    run = trained(config, normals)
    losses = [entry["AE/loss_l1"] for entry in run.history]
    assert len(losses) == 6 and losses[-1] < losses[0]
    scores, maps = scored(SPEC, run.model, test)
    assert maps.shape == (32, 32, 32) and np.allclose(maps.mean(axis=(1, 2)), scores, atol=1e-6)
    assert roc_report([0] * 16 + [1] * 16, scores).auc > 0.8
