"""The authors' loop re-run (`sagan_lib.authors_loop`) makes the same updates as the kit's trainer."""

import pytest
import torch

from anomaly_lib.phantoms import make_phantom_dataset
from sagan_lib import generator as generator_module
from sagan_lib.authors_loop import (
    authors_batches,
    authors_lr_update,
    authors_step,
    train_like_authors,
)
from sagan_lib.config import SaganConfig
from sagan_lib.data import MedADTrainSet
from sagan_lib.train import SaganTrainer

TINY = dict(image_size=32, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=5, batch_size=4,
            num_iters=1000, num_iters_decay=10, device="cpu")


class FixedBatch:
    """A training set whose every batch is the same three tensors, drawn without touching torch's RNG."""

    def __init__(self):
        generator = torch.Generator().manual_seed(5)
        self.images = [torch.rand(4, 1, 32, 32, generator=generator) * 2 - 1 for _ in range(3)]

    def __len__(self):
        return 4

    def batch(self, indices, device="cpu", generator=None):
        return (*self.images, None)


def test_two_iterations_match_the_kit_trainer(monkeypatch, tmp_path):
    monkeypatch.setattr(generator_module, "KEEP_PROBABILITY", 1.0)  # the keep-masks are all ones in both loops
    data = FixedBatch()
    config = SaganConfig(**TINY, model_save_dir=str(tmp_path))
    kit = SaganTrainer(config, data, log=lambda *_: None)
    kit.join_calls = False  # the authors' call order, so both draw the same random numbers
    authors = SaganTrainer(config, data, log=lambda *_: None)  # the same initial weights (seeded by config)
    initial = {net: {n: p.detach().clone() for n, p in getattr(kit, net).named_parameters()} for net in ("G", "D")}
    for iteration in range(2):  # a critic-only iteration, then critic and generator
        torch.manual_seed(100 + iteration)
        kit.train_step()
        torch.manual_seed(100 + iteration)
        authors_step(authors, data.images, iteration)
    for net in ("G", "D"):
        ours, theirs = dict(getattr(kit, net).named_parameters()), dict(getattr(authors, net).named_parameters())
        assert any(not torch.equal(value, initial[net][name]) for name, value in ours.items())  # both moved
        for name, value in ours.items():
            torch.testing.assert_close(value, theirs[name], atol=1e-5, rtol=1e-4, msg=f"{net}.{name} differs")


def test_authors_decay_equals_the_kit_reference_decay(tmp_path):
    config = SaganConfig(**{**TINY, "num_iters": 40, "lr_update_step": 5, "g_lr": 1.0, "d_lr": 1.0,
                            "lr_decay": "reference"}, model_save_dir=str(tmp_path))
    kit, authors = SaganTrainer(config, FixedBatch()), SaganTrainer(config, FixedBatch())
    for i in range(40):
        kit._decay_learning_rates(i + 1)
        authors_lr_update(authors, i)
        assert authors.g_optimizer.param_groups[0]["lr"] == pytest.approx(kit.g_optimizer.param_groups[0]["lr"])
    assert authors.d_optimizer.param_groups[0]["lr"] == pytest.approx(0.8)  # two steps of 1/10


def test_their_batches_pair_unlabeled_i_with_normal_i(tmp_path):
    counts = {"train_normal": 6, "unlabeled_normal": 3, "unlabeled_abnormal": 3, "test_normal": 1, "test_abnormal": 1}
    root = make_phantom_dataset(tmp_path / "data", "medad", 32, counts, seed=1)
    train_set = MedADTrainSet(root, 32, progress=False)
    stream = authors_batches(train_set, batch_size=4, seed=0)
    sizes = []
    for _ in range(3):
        unlabeled, normal, anomaly = next(stream)
        sizes.append(len(normal))
        for u, n in zip(unlabeled, normal):
            index = next(i for i in range(len(train_set)) if torch.equal(train_set[i][1], n))
            assert torch.equal(train_set[index][0], u)
    assert sizes == [4, 2, 4]  # a pass of 6 items: the short batch is kept, then a new pass


def test_train_like_authors_runs_and_reports_each_iteration(tmp_path):
    config = SaganConfig(**{**TINY, "num_iters": 4}, model_save_dir=str(tmp_path))
    seen = []
    train_like_authors(SaganTrainer(config, _TinyItems()), 4, after_iteration=seen.append)
    assert seen == [1, 2, 3, 4]


class _TinyItems(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        image = torch.full((1, 32, 32), i / 8 - 0.5)
        return image, image, image, torch.zeros(1, 32, 32)
