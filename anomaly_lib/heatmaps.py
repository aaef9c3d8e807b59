"""Turn anomaly maps into pictures: scale, colour with a jet colormap, overlay on the image.

An *anomaly map* is a 2-D array where larger means "more abnormal here". SAGAN
gives one per pixel (|input - reconstruction|); SWSSL gives a coarse one per
patch. All functions accept numpy arrays or torch tensors. NaN marks a pixel
that has no value (e.g. a border no SWSSL window covers): it stays uncoloured.

Two ways to put a map on the colours (0 = blue ... 1 = red):

* **own range** (``scale=None``): each map min-max scaled by itself. It shows
  *where* a map is high, but a normal image looks as hot as a lesion.
* **one shared scale** (a ``HeatScale``): the same value gets the same colour in
  every image. ``HeatScale.around(threshold)`` anchors it at a decision
  threshold: 0 is the bottom colour, the threshold the middle one (green) and
  twice the threshold the top one (red); above that stays red. What a pixel at the
  threshold means depends on how the image score is made from the map, see
  ``HeatScale``. ``HeatScale.marked(threshold, largest)`` runs from 0 to the largest
  value instead: the better picture for SAGAN, whose pixel errors are heavy-tailed
  (lesions reach many times the threshold, and a whole normal lung field passes
  twice it). There the threshold is an *image* cutoff on the map's mean, not a pixel
  cutoff, so the colour bar names it in its label and draws no tick for it.

One rule for every heatmap: it says what its scale is, on a colour bar, and an
image-level cutoff is never drawn as if it were a pixel cutoff.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

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


@dataclass(frozen=True)
class HeatScale:
    """One colour scale for many maps: ``low`` gets the bottom colour, ``high`` the top one.

    Values in between are spread linearly; values outside are held at the ends. ``anchor``,
    when set, is the decision threshold. When the image score is the map's *largest* value
    (SWSSL's ``patch_knn``, below), the colour bar ticks it: ``around`` puts it in the middle
    colour, a plain ``HeatScale(low, high, anchor)`` wherever it falls. When the image score is
    the map's *mean* (SAGAN), ``marked`` sets ``anchor_on_mean``: the bar names the cutoff in its
    label and draws no tick, since a pixel above it proves nothing.

    What "a pixel at the threshold" means follows from how the image score is made from the
    map, with the score compared as ``score >= threshold``:

    * SAGAN, score = **mean** of the pixel map ``|x - G(x)| / 2``: a pixel in the middle colour
      is as far off as an image may be *on average* before it is called abnormal. A normal
      image can show some pixels above it (edges are hard to reconstruct); an abnormal image
      is above it on average.
    * SWSSL ``patch_knn``, score = **largest** window score, and a pixel shows the mean score
      of the windows that cover it: a pixel above the middle colour proves a window above the
      threshold, so an abnormal image. The hottest pixels of an abnormal image may stay a
      little below the middle where its one hot window is averaged with cooler neighbours.
    """

    low: float
    high: float
    anchor: float | None = None
    anchor_on_mean: bool = False  # the anchor is an image cutoff on the map's mean (SAGAN), not a pixel value

    def __post_init__(self):
        if not np.isfinite([self.low, self.high]).all() or self.high <= self.low:
            raise ValueError(f"a colour scale needs finite low < high; got low={self.low}, high={self.high}")

    @classmethod
    def around(cls, threshold: float, low: float = 0.0) -> HeatScale:
        """``low`` at the bottom, ``threshold`` in the middle, ``2·threshold − low`` at the top."""
        if not np.isfinite(threshold) or threshold <= low:
            raise ValueError(f"cannot anchor a colour scale at threshold {threshold}: it must be above {low}")
        return cls(low, 2 * threshold - low, float(threshold))

    @classmethod
    def marked(cls, threshold: float, largest: float, low: float = 0.0) -> HeatScale:
        """``low`` to ``largest`` (at least twice the threshold); the threshold, an image cutoff, is
        named on the colour bar's label, not drawn as a pixel value."""
        if not np.isfinite(threshold) or threshold <= low:
            raise ValueError(f"cannot mark threshold {threshold} on a colour scale from {low}")
        return cls(low, float(max(largest, 2 * threshold - low)), float(threshold), anchor_on_mean=True)

    @property
    def centred(self) -> bool:
        """Whether the anchor is the middle colour (as ``around`` makes it)."""
        return self.anchor is not None and np.isclose(self.anchor, (self.low + self.high) / 2)

    def unit(self, values) -> np.ndarray:
        """``values`` on this scale as float32 in [0, 1] (NaN stays NaN)."""
        values = to_numpy(values).astype(np.float32)
        return np.clip((values - self.low) / (self.high - self.low), 0.0, 1.0)

    def describe(self) -> str:
        """One line for a legend: the ends and, if anchored, the threshold."""
        ends = f"{self.low:.3g} (blue) to {self.high:.3g} (red)"
        if self.anchor is None:
            return f"one colour scale for all images, {ends}"
        if self.anchor_on_mean:
            return (f"one colour scale for all images, {ends}; the image cutoff {self.anchor:.3g} applies to each "
                    "map's mean, not to its pixels")
        where = "in the middle (green)" if self.centred else "marked on the colour bar"
        return f"one colour scale for all images, {ends}, threshold {self.anchor:.3g} {where}"


def shared_scale(threshold: float | None = None, largest: float | None = None, low: float = 0.0,
                 centre: bool = True) -> HeatScale:
    """The scale for a set of maps: around ``threshold`` when there is one (above ``low``), or
    with ``centre=False`` up to the ``largest`` value with the threshold marked; without a
    threshold, from ``low`` to the ``largest`` value of the maps."""
    if threshold is not None and np.isfinite(threshold) and threshold > low:
        if centre or largest is None or not np.isfinite(largest):
            return HeatScale.around(threshold, low)
        return HeatScale.marked(threshold, largest, low)
    if largest is None or not np.isfinite(largest) or largest <= low:
        largest = low + 1.0  # all maps at the bottom: any top will do
    return HeatScale(low, float(largest))


def normalize_map(anomaly_map) -> np.ndarray:
    """Min-max scale a map to [0, 1] as float32 (H, W); a constant map becomes all zeros.

    NaN pixels are left out of the min and max and stay NaN.
    """
    anomaly_map = _as_2d(anomaly_map, "anomaly_map").astype(np.float32)
    known = anomaly_map[np.isfinite(anomaly_map)]
    if known.size == 0 or known.max() == known.min():
        return np.where(np.isnan(anomaly_map), np.nan, 0.0).astype(np.float32)
    return (anomaly_map - known.min()) / (known.max() - known.min())


@functools.cache
def jet_colours() -> np.ndarray:
    """OpenCV's jet colormap as uint8 RGB (256, 3): row i is the colour of unit value i / 255.

    Made once and shared, so it is read-only."""
    ramp = np.arange(256, dtype=np.uint8)[:, None]  # (256, 1)
    colours = cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)[:, 0]  # (256, 3)
    colours.setflags(write=False)
    return colours


def jet_heatmap(anomaly_map, scale: HeatScale | None = None) -> np.ndarray:
    """Colour a map with the jet colormap (blue = low, red = high): uint8 RGB (H, W, 3).

    ``scale=None`` scales the map to its own range; a ``HeatScale`` puts every map on the
    same colours. NaN pixels get the bottom colour here (``overlay_heatmap`` leaves them grey).
    """
    anomaly_map = _as_2d(anomaly_map, "anomaly_map")
    unit = normalize_map(anomaly_map) if scale is None else scale.unit(anomaly_map)
    map_uint8 = np.round(np.nan_to_num(unit, nan=0.0) * 255).astype(np.uint8)
    return jet_colours()[map_uint8]  # (H, W) -> (H, W, 3)


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


def overlay_heatmap(gray_image, anomaly_map, alpha=0.5, value_range=(-1, 1), scale: HeatScale | None = None
                    ) -> np.ndarray:
    """Blend a jet-coloured anomaly map over a grey image: uint8 RGB (H, W, 3).

    A map smaller than the image (e.g. SWSSL's patch grid) is first resized to
    the image size with bilinear interpolation. ``alpha`` is the heatmap's weight;
    ``scale`` as in ``jet_heatmap``. Pixels whose map value is NaN show the plain image.
    """
    gray = to_uint8_gray(gray_image, value_range)
    height, width = gray.shape
    anomaly_map = _as_2d(anomaly_map, "anomaly_map").astype(np.float32)
    if anomaly_map.shape != (height, width):
        # cv2 wants the target size as (width, height)
        anomaly_map = cv2.resize(anomaly_map, (width, height), interpolation=cv2.INTER_LINEAR)
    gray_rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)  # (H, W) -> (H, W, 3)
    blended = cv2.addWeighted(gray_rgb, 1.0 - alpha, jet_heatmap(anomaly_map, scale), alpha, 0.0)
    no_value = np.isnan(anomaly_map)
    blended[no_value] = gray_rgb[no_value]
    return blended
