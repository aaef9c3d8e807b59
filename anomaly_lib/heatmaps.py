"""Turn anomaly maps into pictures: normalise, colour with a jet colormap, overlay on the image.

An *anomaly map* is a 2-D array where larger means "more abnormal here". SAGAN
gives one per pixel (|input - reconstruction|); SWSSL gives a coarse one per
patch. All functions accept numpy arrays or torch tensors.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_numpy(array_like) -> np.ndarray:
    """A numpy array from a numpy array, list or torch tensor (moved to CPU, detached)."""
    if hasattr(array_like, "detach"):  # a torch tensor; avoids importing torch here
        array_like = array_like.detach().cpu().numpy()
    return np.asarray(array_like)


def _as_2d(array_like, what: str) -> np.ndarray:
    """Drop singleton batch/channel dims, e.g. (1, 1, H, W) or (H, W, 1) -> (H, W).

    Only outer dims are dropped, so a genuine 1-pixel-high image (1, W) stays 2-D.
    """
    array = to_numpy(array_like)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]  # (1, ..., H, W) -> (..., H, W)
    while array.ndim > 2 and array.shape[-1] == 1:
        array = array[..., 0]  # (H, W, 1) -> (H, W)
    if array.ndim != 2:
        raise ValueError(f"{what} must be a single 2-D map (H, W); got shape {array.shape}")
    return array


def normalize_map(anomaly_map) -> np.ndarray:
    """Min-max scale a map to [0, 1] as float32 (H, W); a constant map becomes all zeros."""
    anomaly_map = _as_2d(anomaly_map, "anomaly_map").astype(np.float32)
    return cv2.normalize(anomaly_map, None, alpha=0.0, beta=1.0, norm_type=cv2.NORM_MINMAX)


def jet_heatmap(anomaly_map) -> np.ndarray:
    """Colour a map with the jet colormap (blue = low, red = high): uint8 RGB (H, W, 3)."""
    map_uint8 = np.round(normalize_map(anomaly_map) * 255).astype(np.uint8)
    heatmap_bgr = cv2.applyColorMap(map_uint8, cv2.COLORMAP_JET)  # (H, W) -> (H, W, 3)
    return cv2.cvtColor(heatmap_bgr, cv2.COLOR_BGR2RGB)


def to_uint8_gray(image, value_range=(-1, 1)) -> np.ndarray:
    """A grey image (H, W) or (1, H, W) as uint8 (H, W).

    Float images are mapped from ``value_range`` to 0..255 (values outside are
    clipped); uint8 images are returned unchanged apart from the squeeze.
    """
    image = _as_2d(image, "image")
    if image.dtype == np.uint8:
        return image
    low, high = value_range
    scaled = (image.astype(np.float32) - low) / (high - low)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def overlay_heatmap(gray_image, anomaly_map, alpha=0.5, value_range=(-1, 1)) -> np.ndarray:
    """Blend a jet-coloured anomaly map over a grey image: uint8 RGB (H, W, 3).

    A map smaller than the image (e.g. SWSSL's patch grid) is first resized to
    the image size with bilinear interpolation. ``alpha`` is the heatmap's weight.
    """
    gray = to_uint8_gray(gray_image, value_range)
    height, width = gray.shape
    anomaly_map = _as_2d(anomaly_map, "anomaly_map").astype(np.float32)
    if anomaly_map.shape != (height, width):
        # cv2 wants the target size as (width, height)
        anomaly_map = cv2.resize(anomaly_map, (width, height), interpolation=cv2.INTER_LINEAR)
    gray_rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)  # (H, W) -> (H, W, 3)
    return cv2.addWeighted(gray_rgb, 1.0 - alpha, jet_heatmap(anomaly_map), alpha, 0.0)
