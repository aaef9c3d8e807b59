"""Simple baselines: what any anomaly detector in the kit has to beat.

Each baseline fits on the labeled normal training images only, then gives every image one
score, higher meaning more abnormal. Images come as SAGAN sees them: float `(N, 1, H, W)` in
[-1, 1] (see `sagan_lib.data.to_model_range`), so a comparison scores every method on the
same pixels and evaluates them with the same `roc_report`.

    MeanImageBaseline   score = mean over pixels of (x − μ)², μ the mean normal image
    PCABaseline         score = mean (x − x̂)², x̂ the projection of x on the first k principal
                        components of the normal images (scikit-learn's PCA)
    FeatureKNNBaseline  score = max over patches of the distance to the k nearest normal patch
                        features; features from an ImageNet ResNet18 (layers 2 and 3, as
                        PatchCore, without its coreset subsampling)

Every baseline has `fit(normals) -> self`, `score(images) -> numpy (N,)` and `maps(images) -> numpy
(N, H, W)`, its anomaly map (for the pixel metrics of a comparison). The plain
convolutional autoencoder, which trains, is a registered method of its own (`autoencoder_lib`),
run by a comparison as a baseline.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from .backbones import IMAGENET_MEAN, IMAGENET_STD


def as_images(images) -> torch.Tensor:
    """Float32 `(N, 1, H, W)` from a tensor or array of shape `(N, 1, H, W)` or `(N, H, W)`."""
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.dim() == 3:
        images = images.unsqueeze(1)  # (N, H, W) → (N, 1, H, W)
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"expected grey images (N, 1, H, W) or (N, H, W) in [-1, 1], got shape {tuple(images.shape)}")
    return images


# ---------------------------------------------------------------------------- pixels


class MeanImageBaseline:
    """Squared distance to the mean normal image, per pixel."""

    name = "mean-image"

    def fit(self, normals) -> MeanImageBaseline:
        self.mean = as_images(normals).mean(dim=0)  # (1, H, W)
        return self

    def maps(self, images) -> np.ndarray:
        """(x − μ)² per pixel: (N, H, W); the score is its mean."""
        return ((as_images(images) - self.mean) ** 2)[:, 0].numpy()

    def score(self, images) -> np.ndarray:
        return self.maps(images).mean(axis=(1, 2))


class PCABaseline:
    """Reconstruction error after projecting onto the first `n_components` principal components."""

    name = "pca"

    def __init__(self, n_components: int = 8):
        self.n_components = n_components

    def fit(self, normals) -> PCABaseline:
        pixels = as_images(normals).flatten(1).numpy()  # (N, H·W)
        most = min(pixels.shape)
        if not 1 <= self.n_components <= most:
            raise ValueError(f"PCA n_components must be between 1 and {most} "
                             f"(the number of normal images or of pixels), got {self.n_components}")
        self.pca = PCA(self.n_components, svd_solver="full").fit(pixels)
        return self

    def maps(self, images) -> np.ndarray:
        """(x − x̂)² per pixel: (N, H, W); the score is its mean."""
        images = as_images(images)
        pixels = images.flatten(1).numpy()  # (N, H·W)
        projected = self.pca.inverse_transform(self.pca.transform(pixels))
        return ((pixels - projected) ** 2).reshape(len(images), *images.shape[-2:])

    def score(self, images) -> np.ndarray:
        return self.maps(images).mean(axis=(1, 2))


# ---------------------------------------------------------------------------- pretrained features


class FeatureKNNBaseline:
    """Nearest-neighbour distance between ResNet patch features and those of the normal images.

    Each image (grey, repeated to RGB, ImageNet-normalised, resized to `input_size` if given)
    goes through the ResNet up to layer 3. Layer 3's map is upsampled to layer 2's size and the
    two are stacked (128 + 256 channels for ResNet18) and averaged over 3×3 neighbourhoods:
    one feature per layer-2 position (8×8 = 64 patches for a 64×64 input). The memory bank holds
    every patch feature of every normal image; a test patch's score is its mean distance to
    the k nearest, and the image's score is its worst patch.

    `pretrained=True` loads ImageNet weights through torchvision (downloaded once; offline
    it fails with instructions, see `anomaly_lib.backbones`). With `pretrained=False` the
    features come from random weights: fine for tests, a weaker baseline otherwise.
    """

    name = "knn"

    def __init__(self, k: int = 1, backbone: str = "resnet18", pretrained: bool = True, input_size: int = None,
                 batch_size: int = 64, device="cpu"):
        from .backbones import build_resnet

        self.k, self.input_size, self.batch_size = k, input_size, batch_size
        self.device = torch.device(device)
        self.resnet = build_resnet(backbone, pretrained).eval().to(self.device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).reshape(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).reshape(1, 3, 1, 1)

    @torch.no_grad()
    def patch_features(self, images) -> torch.Tensor:
        """Images `(N, 1, H, W)` in [-1, 1] → patch features `(N, patches, channels)`."""
        features = []
        for chunk in as_images(images).split(self.batch_size):
            x = ((chunk.to(self.device) + 1) / 2).expand(-1, 3, -1, -1)  # (B, 3, H, W) in [0, 1]
            x = (x - self.mean) / self.std
            if self.input_size is not None:
                x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
            r = self.resnet
            x = r.layer1(r.maxpool(r.relu(r.bn1(r.conv1(x)))))  # (B, 64, H/4, W/4)
            layer2 = r.layer2(x)  # (B, 128, H/8, W/8)
            layer3 = r.layer3(layer2)  # (B, 256, H/16, W/16)
            layer3 = F.interpolate(layer3, size=layer2.shape[-2:], mode="bilinear", align_corners=False)
            stacked = F.avg_pool2d(torch.cat([layer2, layer3], dim=1), 3, stride=1, padding=1)  # (B, 384, H/8, W/8)
            features.append(stacked.flatten(2).transpose(1, 2).cpu())  # (B, patches, 384)
        return torch.cat(features)

    def fit(self, normals) -> FeatureKNNBaseline:
        bank = self.patch_features(normals)  # (N, patches, C)
        if self.k > bank.shape[0] * bank.shape[1]:
            raise ValueError(f"k={self.k} is more than the {bank.shape[0] * bank.shape[1]} normal patches")
        self.index = NearestNeighbors(n_neighbors=self.k).fit(bank.flatten(0, 1).numpy())
        return self

    def patch_scores(self, images) -> np.ndarray:
        """Mean distance of each patch to its k nearest normal patches: `(N, patches)`."""
        features = self.patch_features(images)  # (N, patches, C)
        distances, _ = self.index.kneighbors(features.flatten(0, 1).numpy())  # (N·patches, k)
        return distances.mean(axis=1).reshape(features.shape[:2])

    def maps(self, images) -> np.ndarray:
        """Each patch's score spread over the image (bilinear from the layer-2 grid): (N, H, W); the
        image score is the largest patch score, not the map's mean."""
        images = as_images(images)
        scores = torch.from_numpy(self.patch_scores(images)).float()  # (N, patches)
        side = int(round(scores.shape[1] ** 0.5))
        grid = scores.reshape(len(images), 1, side, side)  # (N, 1, h, w): square inputs
        return F.interpolate(grid, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0].numpy()

    def score(self, images) -> np.ndarray:
        return self.patch_scores(images).max(axis=1)


BASELINES = {cls.name: cls for cls in (MeanImageBaseline, PCABaseline, FeatureKNNBaseline)}
