"""The Med-AD split as every method reads it: [-1, 1] images, study ids, per-id averages, the test set.

SAGAN's training triples (`sagan_lib.data.MedADTrainSet`) are SAGAN's own; the pieces here are
shared by every method and by `compare`.
"""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .images import load_grayscale
from .layouts import MEDAD_JSON_KEYS, read_medad

# The phantom Med-AD split of the SAGAN demo and the quick comparison: 160 labeled normals, an
# unlabeled pool of 160 (60 % abnormal, the authors' ar), 60 + 60 test images.
DEMO_COUNTS = {"train_normal": 160, "unlabeled_normal": 64, "unlabeled_abnormal": 96,
               "test_normal": 60, "test_abnormal": 60}
# Larger lesions than the phantoms' default (pneumonia-sized consolidations), so that a
# few hundred CPU iterations are enough to see them; the default size needs longer training.
DEMO_LESION_SCALE = 1.6

def to_model_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 `(…, H, W)` → float in [-1, 1], as `ToTensor` + `Normalize((0.5,), (0.5,))`."""
    return images_uint8.float().div(255).sub(0.5).div(0.5)


def image_id(path) -> str:
    """The id that groups slices of one study: the file name's stem up to `__`."""
    return Path(path).stem.split("__")[0]


def check_nonempty(splits: dict, names, root) -> None:
    for name in names:
        if not splits[name]:
            raise ValueError(f"{Path(root) / 'data.json'}: split {'/'.join(MEDAD_JSON_KEYS[name])} lists no images")


def average_by_id(ids, scores, labels):
    """Average scores over images that share an id; returns `(ids, scores, labels)` per id."""
    groups = OrderedDict()
    for image_id, score, label in zip(ids, scores, labels):
        entry = groups.setdefault(image_id, [[], label])
        if entry[1] != label:
            raise ValueError(f"images with id {image_id!r} have different labels")
        entry[0].append(float(score))
    unique_ids = list(groups)
    return (unique_ids, np.array([np.mean(groups[i][0]) for i in unique_ids]),
            np.array([groups[i][1] for i in unique_ids]))


class MedADTestSet(Dataset):
    """Test images: item i is `(image (1, H, W), image_id, label)` with label 1 = abnormal."""

    def __init__(self, root, image_size: int = 64, split: str = "test", progress: bool = True, splits: dict = None):
        splits = splits or read_medad(root)  # data.json's lists, when the caller has not read them
        names = [f"{split}_normal", f"{split}_abnormal"]
        check_nonempty(splits, names, root)
        self.paths = splits[names[0]] + splits[names[1]]
        self.labels = torch.tensor([0] * len(splits[names[0]]) + [1] * len(splits[names[1]]))
        self.ids = [image_id(path) for path in self.paths]
        self.images = torch.from_numpy(load_grayscale(self.paths, image_size, desc=f"{split} images", progress=progress))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return to_model_range(self.images[i]).unsqueeze(0), self.ids[i], int(self.labels[i])
