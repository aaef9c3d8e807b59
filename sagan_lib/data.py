"""Med-AD datasets for SAGAN (RSNA, VinDr-CXR, LAG, or phantoms in the same layout).

Images are read once, resized to `image_size` (bilinear, as the authors'
`Resize`), and kept in memory as uint8; they become [-1, 1] tensors
(`ToTensor` then `Normalize(0.5, 0.5)`, i.e. `2·x/255 − 1`) only when used.
"""

import torch
from torch.utils.data import Dataset

from anomaly_lib.images import load_grayscale
from anomaly_lib.layouts import read_medad, unlabeled_counts
from anomaly_lib.medad import MedADTestSet, check_nonempty, image_id, to_model_range

from .synthetic_anomaly import paste_anomalies, pick_sources


def unlabeled_mix(splits: dict, ar: float = 0.6, num_normals: int = None) -> list:
    """The authors' unlabeled set: the first int(N·ar) abnormal plus the first N − int(N·ar) normal.

    N is the number of labeled normals that train (default: all), so unlabeled image i pairs with normal i.
    """
    num_normals = len(splits["train_normal"]) if num_normals is None else num_normals
    num_abnormal, num_normal = unlabeled_counts(num_normals, ar)
    have_abnormal, have_normal = len(splits["unlabeled_abnormal"]), len(splits["unlabeled_normal"])
    if have_abnormal < num_abnormal or have_normal < num_normal:
        raise ValueError(
            f"ar={ar} with {num_normals} labeled normals needs {num_abnormal} unlabeled abnormal and "
            f"{num_normal} unlabeled normal images, but data.json lists {have_abnormal} under "
            f"train/unlabeled/1 and {have_normal} under train/unlabeled/0"
        )
    return splits["unlabeled_abnormal"][:num_abnormal] + splits["unlabeled_normal"][:num_normal]


class MedADTrainSet(Dataset):
    """Training triples for SAGAN: item i is `(unlabeled_i, normal_i, anomaly_i, mask_i)`, each `(1, H, W)`.

    `holdout`: the last `holdout` labeled normals are kept out of training (`heldout_normals`,
    `heldout_paths`), for label-free model selection and thresholds; the unlabeled mix is made
    for the normals that train, so its abnormal share stays `ar`.
    """

    def __init__(self, root, image_size: int = 64, ar: float = 0.6, core_percent: float = 0.6,
                 holdout: int = 0, progress: bool = True, splits: dict = None):
        splits = splits or read_medad(root)  # data.json's lists, when the caller has not read them
        check_nonempty(splits, ["train_normal"], root)
        normal_paths = splits["train_normal"]
        keep = len(normal_paths) - holdout
        if holdout and keep < 2:
            raise ValueError(f"holding out {holdout} of {len(normal_paths)} labeled normals leaves fewer than 2 "
                             "for training")
        unlabeled_paths = unlabeled_mix(splits, ar, keep)
        self.core_percent = core_percent
        normals = torch.from_numpy(load_grayscale(normal_paths, image_size, desc="labeled normals", progress=progress))
        self.unlabeled = torch.from_numpy(
            load_grayscale(unlabeled_paths, image_size, desc="unlabeled", progress=progress))  # (N, H, W) uint8
        self.normals = normals[:keep]  # (N, H, W) uint8
        self.heldout_normals = normals[keep:]  # (holdout, H, W) uint8
        self.normal_paths, self.heldout_paths = normal_paths[:keep], normal_paths[keep:]
        self.unlabeled_paths = unlabeled_paths

    def __len__(self):
        return len(self.normals)

    def batch(self, indices: torch.Tensor, device="cpu", generator: torch.Generator = None):
        """A whole batch at once, anomalies made on `device`: four `(B, 1, H, W)` tensors."""
        sources = pick_sources(indices, len(self.normals), generator)
        unlabeled = to_model_range(self.unlabeled[indices].to(device)).unsqueeze(1)  # (B, 1, H, W)
        normal = to_model_range(self.normals[indices].to(device)).unsqueeze(1)
        source = to_model_range(self.normals[sources].to(device)).unsqueeze(1)
        anomaly, mask = paste_anomalies(normal, source, self.core_percent, generator)
        return unlabeled, normal, anomaly, mask

    def __getitem__(self, i):
        unlabeled, normal, anomaly, mask = self.batch(torch.tensor([i]))
        return unlabeled[0], normal[0], anomaly[0], mask[0].long()


__all__ = ["MedADTestSet", "MedADTrainSet", "image_id", "to_model_range", "unlabeled_mix"]
