"""Synthetic chest radiographs and breast slices, with and without lesions, for fast experiments.

Real datasets take hours to download and train on. These phantoms are drawn
with a few cv2 ellipses, lines and blurs in milliseconds, yet keep what matters
for anomaly detection: normal images vary (pose, size, contrast, noise), and
abnormal images differ only by a local lesion whose mask we know. The ``subtle``
chest preset (``SubtleRecipe``) makes the task hard enough to rank methods: normals
warped and textured, lesions small and faint.

All drawing happens on a float32 canvas in [0, 1] (bright = dense tissue, as on
a radiograph); sizes and positions are fractions of the image size, so the same
code works from 32x32 to 1024x1024.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .files import swap_folder, write_bytes
from .images import as_height_width
from .layouts import CHEST_FOLDERS, DBT_FOLDERS, write_medad_json
from .runs import check_writable

SUBPIXEL_BITS = 4  # cv2 drawing with fractional coordinates, so shapes scale smoothly


@dataclass
class Phantom:
    """One synthetic image with its ground truth."""

    image: np.ndarray  # uint8 (H, W)
    lesion_mask: np.ndarray  # bool (H, W); all False for a normal image
    organ_mask: np.ndarray  # bool (H, W); the lungs (chest) or breast tissue (breast)


# ---------------------------------------------------------------------------- drawing helpers


def _draw_ellipse(canvas, center, axes, angle=0.0, arc=(0, 360), thickness=-1) -> np.ndarray:
    """Draw a filled (or, with thickness > 0, outlined) ellipse of value 1 onto ``canvas``.

    ``center`` = (x, y) and ``axes`` = (half-width, half-height) in pixels, floats
    allowed; ``arc`` = (start, end) in degrees, clockwise from the +x axis.
    """
    scale = 1 << SUBPIXEL_BITS
    cv2.ellipse(
        canvas,
        (round(center[0] * scale), round(center[1] * scale)),
        (max(1, round(axes[0] * scale)), max(1, round(axes[1] * scale))),
        angle,
        arc[0],
        arc[1],
        1.0,
        thickness,
        cv2.LINE_8,
        SUBPIXEL_BITS,
    )
    return canvas


def _ellipse_mask(shape, center, axes, angle=0.0) -> np.ndarray:
    """A new float32 (H, W) canvas with one filled ellipse of 1s on 0s."""
    return _draw_ellipse(np.zeros(shape, np.float32), center, axes, angle)


def _blur(image: np.ndarray, sigma: float, sigma_y: float | None = None) -> np.ndarray:
    """Gaussian blur with sigma in pixels (``sigma_y`` for a different vertical sigma).

    Tiny sigmas are skipped. Large blurs are done on a downscaled copy and
    scaled back: the result looks the same, and 1024x1024 phantoms stay fast.
    """
    sigma_y = sigma if sigma_y is None else sigma_y
    if max(sigma, sigma_y) < 0.3:
        return image
    factor = int(min(sigma, sigma_y) // 4)
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma_y)
    height, width = image.shape
    small = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, sigmaY=sigma_y / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _smooth_noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """Blurred white noise rescaled to unit standard deviation: blotchy texture of size ~sigma."""
    noise = _blur(rng.standard_normal(shape).astype(np.float32), sigma)
    return noise / (noise.std() + 1e-6)


def _random_point_in(rng: np.random.Generator, mask: np.ndarray, margin: float = 0.0):
    """(x, y) of a random pixel at least ``margin`` px inside ``mask`` (or anywhere in it)."""
    # distance of every mask pixel to the nearest pixel outside the mask
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    inner = depth >= max(margin, 1.0)
    ys, xs = np.nonzero(inner if inner.any() else mask)
    pick = rng.integers(len(xs))
    return float(xs[pick]), float(ys[pick])


def _finish(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Random contrast/brightness, detector noise and a slight blur; float [0,1] -> uint8.

    Noise and blur are per pixel (not scaled with the image size), like a detector's.
    """
    gain = rng.uniform(0.85, 1.15)
    offset = rng.uniform(-0.05, 0.05)
    canvas = canvas * gain + offset
    canvas = canvas + rng.normal(0.0, rng.uniform(0.01, 0.025), canvas.shape).astype(np.float32)
    canvas = _blur(canvas, 0.6)
    return np.round(np.clip(canvas, 0.0, 1.0) * 255).astype(np.uint8)


# ---------------------------------------------------------------------------- chest


def _body(rng, shape, center_x, tilt, unit) -> np.ndarray:
    """Soft-edged trunk with shoulders: float (H, W), 1 inside the body, 0 in the air around it."""
    height, width = shape
    trunk = _ellipse_mask(
        shape, (center_x, height * 0.62), (width * rng.uniform(0.44, 0.5), height * 0.62), tilt
    )
    shoulders = _draw_ellipse(
        trunk, (center_x, height * 0.2), (width * rng.uniform(0.5, 0.56), height * 0.16), tilt
    )
    return _blur(shoulders, 2.0 * unit)


def _lungs_and_heart(rng, shape, center_x, lung_y, tilt) -> tuple[np.ndarray, np.ndarray]:
    """Two tall lung ovals and the heart: (lungs, heart), each float 0/1 (H, W)."""
    height, width = shape
    lung_axes = (width * rng.uniform(0.14, 0.17), height * rng.uniform(0.29, 0.34))
    lungs = np.zeros(shape, np.float32)
    for side in (-1, 1):  # image left, image right
        lung_x = center_x + side * width * rng.uniform(0.19, 0.22)
        apex_lean = side * rng.uniform(2, 8)  # the tops lean towards the midline
        _draw_ellipse(lungs, (lung_x, lung_y), lung_axes, tilt - apex_lean)
    # the heart lies low, towards the patient's left = the image's right on a PA radiograph
    heart = _ellipse_mask(
        shape,
        (center_x + width * rng.uniform(0.05, 0.09), height * rng.uniform(0.62, 0.67)),
        (width * rng.uniform(0.13, 0.17), height * rng.uniform(0.11, 0.14)),
        tilt - rng.uniform(15, 30),
    )
    return lungs, heart


def _spine(rng, shape, center_x, tilt, unit) -> np.ndarray:
    """A vertical band down the midline with faint gaps between vertebrae: float (H, W)."""
    height, width = shape
    spine = _ellipse_mask(shape, (center_x, height * 0.5), (width * 0.045, height * 0.62), tilt)
    rows = np.arange(height) / height
    vertebra_gaps = 0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(11, 14) * rows)  # (H,)
    spine = spine * (1 - 0.3 * vertebra_gaps[:, None])  # (H, 1) broadcasts over columns
    return _blur(spine, 1.2 * unit)


def _ribs(rng, shape, center_x, tilt, unit) -> np.ndarray:
    """Thin arcs, high at the spine and curving outwards and down: float (H, W)."""
    height, width = shape
    ribs = np.zeros(shape, np.float32)
    spacing = height * rng.uniform(0.07, 0.08)
    thickness = max(1, round(unit))
    for rib in range(8):
        arc_center = (center_x, height * (0.16 + 0.13) + rib * spacing)
        arc_axes = (width * rng.uniform(0.34, 0.38), height * 0.13)
        # degrees clockwise from +x: 180-270 is the upper-left quarter, 270-360 the upper-right
        for arc in ((180, 270), (270, 360)):
            _draw_ellipse(ribs, arc_center, arc_axes, tilt, arc, thickness)
    return _blur(ribs, 0.6 * unit)


def _vessels(rng, shape, center_x, lung_y, unit) -> np.ndarray:
    """Lung markings: thin lines fanning outwards from each hilum: float (H, W)."""
    height, width = shape
    vessels = np.zeros(shape, np.float32)
    thickness = max(1, round(0.7 * unit))
    for side in (-1, 1):
        hilum_x = center_x + side * width * 0.1
        hilum_y = lung_y + height * rng.uniform(-0.02, 0.04)
        for angle in np.deg2rad(rng.uniform(-70, 70, rng.integers(5, 9))):
            length = height * rng.uniform(0.1, 0.22)
            tip_x = hilum_x + side * length * np.cos(angle)  # side * ...: point outwards
            tip_y = hilum_y + length * np.sin(angle)
            cv2.line(
                vessels,
                (round(hilum_x), round(hilum_y)),
                (round(tip_x), round(tip_y)),
                1.0,
                thickness,
            )
    return _blur(vessels, 0.6 * unit)


def _draw_lesions(rng, shape, allowed: np.ndarray, unit: float,
                  strength=(0.3, 0.42)) -> tuple[np.ndarray, np.ndarray]:
    """Bright compact opacities inside ``allowed``: (soft intensity layer, bool mask).

    ``unit`` is the image size / 64: at 64x64 nodules have radii of 3-7.5 px and
    consolidation is 3-5 overlapping blobs of radius 2.5-4.5 px. A lesion is
    round nodules, patchy consolidation, or one nodule plus consolidation. Each blob's
    peak brightness is drawn from ``strength`` (low, high).
    """
    kind = rng.choice(["nodules", "consolidation", "both"], p=[0.4, 0.4, 0.2])
    blobs = []  # (x, y, radius_x, radius_y, angle)
    if kind != "consolidation":
        n_nodules = 1 if kind == "both" else rng.integers(1, 3)
        for _ in range(n_nodules):
            radius = rng.uniform(3.0, 7.5) * unit
            x, y = _random_point_in(rng, allowed, margin=radius)
            stretch = rng.uniform(0.8, 1.2)
            blobs.append((x, y, radius * stretch, radius / stretch, rng.uniform(0, 180)))
    if kind != "nodules":
        center_x, center_y = _random_point_in(rng, allowed, margin=5 * unit)
        for _ in range(rng.integers(3, 6)):
            radius = rng.uniform(2.5, 4.5) * unit
            x = center_x + rng.normal(0, 2.5 * unit)
            y = center_y + rng.normal(0, 3.5 * unit)
            blobs.append((x, y, radius * rng.uniform(0.7, 1.4), radius, rng.uniform(0, 180)))

    shape_mask = np.zeros(shape, np.float32)
    layer = np.zeros(shape, np.float32)
    for x, y, radius_x, radius_y, angle in blobs:
        blob = _ellipse_mask(shape, (x, y), (radius_x, radius_y), angle)
        shape_mask = np.maximum(shape_mask, blob)
        # each blob is densest in its middle: blur by a fraction of its radius
        peak = rng.uniform(*strength)
        layer = np.maximum(layer, peak * _blur(blob, 0.35 * min(radius_x, radius_y)))
    lesion_mask = (shape_mask > 0) & allowed
    return layer, lesion_mask


DIFFICULTIES = ("easy", "subtle")


@dataclass(frozen=True)
class SubtleRecipe:
    """What the ``subtle`` chest preset changes, all of it drawn independently per image.

    Normal images vary beyond what a linear model of the pixels captures:
      * pose: a rotation, zoom and shift of the whole radiograph (an affine warp);
      * deformation: a smooth random displacement field (elastic warp);
      * texture: blotchy lung texture of random grain and a random gamma (a non-linear
        intensity curve).
    Lesions are as small and as faint as that variation: the easy preset's lesion shapes
    at ``lesion_scale`` of their size and a peak brightness in ``lesion_strength`` (easy:
    0.30-0.42), the same order as the texture's blotches.
    The numbers were written down once from these criteria, not tuned on any method's scores.
    """

    rotation_degrees: float = 8.0  # ± on top of the easy preset's ±4° tilt
    zoom: tuple = (0.92, 1.08)
    shift: float = 0.04  # ± share of the image size, per axis
    warp_pixels: float = 1.5  # displacement std at 64 px (scales with the image)
    warp_smoothness: float = 8.0  # blur sigma of the displacement field at 64 px
    texture_strength: tuple = (0.02, 0.05)  # std of the extra lung texture
    texture_grain: tuple = (1.0, 3.0)  # its blob size (sigma) at 64 px
    gamma: tuple = (0.8, 1.25)
    lesion_scale: float = 0.6
    lesion_strength: tuple = (0.08, 0.14)


SUBTLE = SubtleRecipe()


def _pose_and_deformation(rng, shape, unit, recipe: SubtleRecipe):
    """A random warp for ``cv2.remap``: (map_x, map_y), each float32 (H, W)."""
    height, width = shape
    angle = rng.uniform(-recipe.rotation_degrees, recipe.rotation_degrees)
    zoom = rng.uniform(*recipe.zoom)
    shift = rng.uniform(-recipe.shift, recipe.shift, 2) * (width, height)
    affine = cv2.getRotationMatrix2D((width / 2, height / 2), angle, zoom)  # (2, 3)
    affine[:, 2] += shift
    inverse = cv2.invertAffineTransform(affine)  # remap needs where each output pixel comes from
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)  # each (H, W)
    source_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    source_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    for source in (source_x, source_y):  # the elastic part: smooth noise of std warp_pixels
        source += recipe.warp_pixels * unit * _smooth_noise(rng, shape, recipe.warp_smoothness * unit)
    return source_x.astype(np.float32), source_y.astype(np.float32)


def _warp(image: np.ndarray, warp) -> np.ndarray:
    return cv2.remap(image, warp[0], warp[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def draw_chest(rng: np.random.Generator, size, abnormal: bool, lesion_scale: float = 1.0,
               difficulty: str = "easy") -> Phantom:
    """A chest-radiograph-like phantom (PA view): body, lungs, heart, spine, ribs, optional lesions.

    The image is built as a sum of layers, each with a random strength, so
    normal images vary; an abnormal image also gets bright opacities inside
    the lungs (see ``_draw_lesions``). ``difficulty="subtle"`` warps the anatomy, adds
    texture and a gamma curve, and draws smaller, fainter lesions (``SubtleRecipe``); "easy"
    draws exactly the images it always did.
    """
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {difficulty!r}; choose one of {', '.join(DIFFICULTIES)}")
    height, width = as_height_width(size)
    shape = (height, width)
    unit = min(height, width) / 64  # 1 at 64x64: lengths below are "pixels at 64x64"
    center_x = width * (0.5 + rng.uniform(-0.03, 0.03))
    lung_y = height * rng.uniform(0.43, 0.48)
    tilt = rng.uniform(-4, 4)  # degrees the patient is rotated

    body = _body(rng, shape, center_x, tilt, unit)
    lungs, heart = _lungs_and_heart(rng, shape, center_x, lung_y, tilt)
    aerated_lungs = lungs * (1 - heart)  # the heart hides the lung behind it
    soft_lungs = _blur(aerated_lungs, 1.2 * unit)

    canvas = 0.06 + (rng.uniform(0.5, 0.62) - 0.06) * body  # air 0.06, soft tissue ~0.55
    canvas -= rng.uniform(0.3, 0.38) * soft_lungs  # air-filled lungs are dark
    canvas += 0.08 * _spine(rng, shape, center_x, tilt, unit)
    # ribs show mainly against the dark lungs
    canvas += 0.06 * _ribs(rng, shape, center_x, tilt, unit) * body * (0.3 + 0.7 * soft_lungs)
    canvas += 0.05 * _vessels(rng, shape, center_x, lung_y, unit) * soft_lungs
    canvas += 0.015 * _smooth_noise(rng, shape, 1.5 * unit) * soft_lungs

    strength = (0.3, 0.42)
    if difficulty == "subtle":
        grain = rng.uniform(*SUBTLE.texture_grain) * unit
        canvas += rng.uniform(*SUBTLE.texture_strength) * _smooth_noise(rng, shape, grain) * soft_lungs
        warp = _pose_and_deformation(rng, shape, unit, SUBTLE)
        canvas, soft_lungs, aerated_lungs = (_warp(layer, warp) for layer in (canvas, soft_lungs, aerated_lungs))
        lesion_scale, strength = lesion_scale * SUBTLE.lesion_scale, SUBTLE.lesion_strength

    lung_mask = aerated_lungs > 0.5
    lesion_mask = np.zeros(shape, bool)
    if abnormal:
        lesion_layer, lesion_mask = _draw_lesions(rng, shape, lung_mask, unit * lesion_scale, strength)
        canvas += lesion_layer * soft_lungs  # opacities fade out at the lung border
    if difficulty == "subtle":  # a random non-linear intensity curve, lesion included
        canvas = np.clip(canvas, 0.0, 1.0) ** rng.uniform(*SUBTLE.gamma)

    return Phantom(_finish(rng, canvas), lesion_mask, lung_mask)


def chest_phantom(rng: np.random.Generator, size, abnormal: bool) -> tuple[np.ndarray, np.ndarray]:
    """A chest phantom: (image uint8 (H, W), lesion_mask bool (H, W)). See ``draw_chest``."""
    phantom = draw_chest(rng, size, abnormal)
    return phantom.image, phantom.lesion_mask


# ---------------------------------------------------------------------------- breast


def _glandular_texture(rng, shape, reach, unit) -> np.ndarray:
    """Fibroglandular tissue: wispy streaks towards the nipple, denser near the chest wall."""
    height, width = shape
    streaks = np.zeros(shape, np.float32)
    for sigma_along, sigma_across, weight in ((6.0, 1.5, 1.0), (2.0, 0.6, 0.6)):
        noise = rng.standard_normal(shape).astype(np.float32)
        # a wider blur along x than along y stretches the blobs into horizontal streaks
        noise = _blur(noise, sigma_along * unit, sigma_y=sigma_across * unit)
        streaks += weight * noise / (noise.std() + 1e-6)
    distance_from_wall = np.arange(width, dtype=np.float32) / reach  # (W,), 1 at the nipple
    density = np.clip(1.2 - distance_from_wall, 0, 1)[None, :]  # (1, W) broadcasts over rows
    return np.clip(0.45 + 0.3 * streaks + rng.uniform(-0.15, 0.15), 0, 1) * density


def _mass(rng, shape, breast_mask, unit) -> tuple[np.ndarray, np.ndarray]:
    """A dense round mass with spicules radiating out: (soft intensity layer, bool core mask)."""
    radius = rng.uniform(3.5, 7.0) * unit
    away_from_wall = breast_mask.copy()
    away_from_wall[:, : round(2.5 * radius)] = False  # keep the mass off the chest-wall edge
    x, y = _random_point_in(rng, away_from_wall, margin=2.5 * radius)
    core = _ellipse_mask(
        shape, (x, y), (radius * rng.uniform(0.8, 1.2), radius), rng.uniform(0, 180)
    )
    spicules = np.zeros(shape, np.float32)
    for angle in rng.uniform(0, 2 * np.pi, rng.integers(6, 12)):
        length = radius * rng.uniform(1.6, 2.6)
        tip = (round(x + length * np.cos(angle)), round(y + length * np.sin(angle)))
        cv2.line(spicules, (round(x), round(y)), tip, 1.0, max(1, round(0.6 * unit)))
    layer = np.maximum(_blur(core, 0.3 * radius), 0.5 * _blur(spicules, 0.4 * unit))
    return layer, core > 0


def draw_breast(rng: np.random.Generator, size, abnormal: bool, lesion_scale: float = 1.0) -> Phantom:
    """A breast-slice-like phantom: tissue half-ellipse on black, glandular texture, optional mass.

    The lesion mask marks the mass core; the spicules around it are left out.
    """
    height, width = as_height_width(size)
    shape = (height, width)
    unit = min(height, width) / 64  # 1 at 64x64

    # tissue: half an ellipse growing out of the chest wall at the left edge
    reach = width * rng.uniform(0.75, 0.92)
    breast = _ellipse_mask(
        shape,
        (0, height * rng.uniform(0.45, 0.55)),
        (reach, height * rng.uniform(0.36, 0.46)),
        rng.uniform(-8, 8),
    )
    breast_soft = _blur(breast, 1.0 * unit)
    fat_level, gland_level = rng.uniform(0.18, 0.26), rng.uniform(0.25, 0.35)
    canvas = breast_soft * (fat_level + gland_level * _glandular_texture(rng, shape, reach, unit))

    breast_mask = breast > 0.5
    lesion_mask = np.zeros(shape, bool)
    if abnormal:
        mass_layer, core = _mass(rng, shape, breast_mask, unit * lesion_scale)
        canvas += rng.uniform(0.35, 0.45) * mass_layer * breast_soft
        lesion_mask = core & breast_mask

    return Phantom(_finish(rng, canvas), lesion_mask, breast_mask)


def breast_phantom(rng: np.random.Generator, size, abnormal: bool) -> tuple[np.ndarray, np.ndarray]:
    """A breast phantom: (image uint8 (H, W), lesion_mask bool (H, W)). See ``draw_breast``."""
    phantom = draw_breast(rng, size, abnormal)
    return phantom.image, phantom.lesion_mask


# ---------------------------------------------------------------------------- datasets on disk

DEFAULT_COUNTS = {
    # train_normal 100 -> the authors' unlabeled mix (ar = 0.6) needs 60 abnormal + 40 normal
    "medad": {
        "train_normal": 100,
        "unlabeled_normal": 60,
        "unlabeled_abnormal": 60,
        "test_normal": 50,
        "test_abnormal": 50,
    },
    "chest": {"train_normal": 40, "test_normal": 20, "test_abnormal": 20},
    "dbt": {"train_normal": 40, "test_normal": 20, "test_abnormal": 20},
}
# a fixed number per split, so an image's random stream depends only on (seed, split, index)
SPLIT_IDS = {
    "train_normal": 0,
    "unlabeled_normal": 1,
    "unlabeled_abnormal": 2,
    "test_normal": 3,
    "test_abnormal": 4,
}
SETTINGS_FILE = "phantom_dataset.json"  # marks a folder as ours, so it may be rewritten


def refuse_foreign_folder(out_dir: Path, marker: str = SETTINGS_FILE) -> None:
    """Refuse a non-empty ``out_dir`` that is not a dataset of ours (it holds no ``marker``)."""
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / marker).is_file():
        raise FileExistsError(
            f"{out_dir} is not empty and holds no {marker}; "
            "refusing to overwrite it. Choose a new or empty folder."
        )


def prepare_output_folder(out_dir: Path, marker: str = SETTINGS_FILE) -> None:
    """Create ``out_dir``; clear it first if an earlier dataset of ours lives there (it holds ``marker``)."""
    refuse_foreign_folder(out_dir, marker)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # marked ours at once, so a run that fails half-way (a full disk) can simply be run again
    write_bytes(out_dir / marker, json.dumps({"complete": False}).encode())


@contextmanager
def replacing_folder(out_dir: Path, marker: str = SETTINGS_FILE):
    """Yield an empty temporary folder beside ``out_dir`` (``.OUT.phantoms-*``) for the new
    dataset; when the block ends without an error it takes the place of ``out_dir``
    (``files.swap_folder``), so an earlier dataset is deleted only once the new one is
    complete. On an error the temporary folder goes and ``out_dir`` stays as it was. A folder
    that is not ours is refused first."""
    refuse_foreign_folder(out_dir, marker)
    place = Path(os.path.realpath(out_dir))  # --out a link: the folder it names is replaced, not the link
    check_writable(place.parent)
    work = Path(tempfile.mkdtemp(dir=place.parent, prefix=f".{place.name}.phantoms-"))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # as a folder made by mkdir (mkdtemp makes it private)
    try:
        yield work
        swap_folder(work, place, work.with_name(work.name.replace(".phantoms-", ".replaced-")))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # gone already after a swap


def _write_png(path: Path, image: np.ndarray) -> None:
    """Encode in memory, then write: a full disk is one error naming the file (``files.DiskFullError``),
    not a stream of libpng messages and a silent ``False`` from ``cv2.imwrite``."""
    encoded, data = cv2.imencode(".png", image)
    if not encoded:
        raise ValueError(f"OpenCV could not encode {path.name} as PNG")
    write_bytes(path, data.tobytes())


def _split_folder(out_dir: Path, layout: str, split: str) -> Path:
    """Where the images of one split go, according to the layout definitions."""
    if layout == "medad":
        return out_dir / "images"
    if layout == "chest":
        return out_dir / CHEST_FOLDERS[split][0]
    return out_dir / DBT_FOLDERS[split]


def _drawer(layout: str, difficulty: str):
    """The drawing function of a layout at a difficulty: (rng, size, abnormal, lesion_scale) -> Phantom."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {difficulty!r}; choose one of {', '.join(DIFFICULTIES)}")
    if layout == "dbt":
        if difficulty != "easy":
            raise ValueError(f"difficulty {difficulty!r} exists for chest phantoms only (layouts medad, chest)")
        return draw_breast
    return lambda rng, size, abnormal, lesion_scale: draw_chest(rng, size, abnormal, lesion_scale, difficulty)


def make_phantom_dataset(out_dir, layout="medad", image_size=64, counts=None, seed=0,
                         lesion_scale: float = 1.0, difficulty: str = "easy") -> Path:
    """Write a phantom dataset in one of the layouts of ``layouts.py``; returns ``out_dir``.

    ``layout`` is "medad" or "chest" (chest phantoms) or "dbt" (breast phantoms).
    ``counts`` overrides some or all of ``DEFAULT_COUNTS[layout]``. Images are
    named like ``test_abnormal_0007.png``; lesion masks of abnormal images go to
    ``out_dir/masks/`` under the same names. ``lesion_scale`` multiplies lesion sizes.
    ``difficulty`` is "easy" or, for the chest layouts, "subtle" (see ``SubtleRecipe``).
    The same seed gives the same bytes.
    """
    if layout not in DEFAULT_COUNTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {list(DEFAULT_COUNTS)}")
    counts = {**DEFAULT_COUNTS[layout], **(counts or {})}
    unknown = sorted(set(counts) - set(DEFAULT_COUNTS[layout]))
    if unknown:
        raise ValueError(
            f"unknown count key(s) {unknown} for layout {layout!r}; "
            f"valid keys: {list(DEFAULT_COUNTS[layout])}"
        )
    # the folder layouts' readers reject empty folders, so those need at least one image
    smallest = 0 if layout == "medad" else 1
    for split, count in counts.items():
        if int(count) < smallest:
            raise ValueError(
                f"count for {split} must be >= {smallest} in layout {layout!r}; got {count}"
            )
    draw = _drawer(layout, difficulty)
    height, width = as_height_width(image_size)

    out_dir = Path(out_dir)
    with replacing_folder(out_dir) as work:  # written beside out_dir, then swapped in
        mask_dir = work / "masks"
        mask_dir.mkdir()
        file_names = {}
        for split, count in counts.items():
            folder = _split_folder(work, layout, split)
            folder.mkdir(parents=True, exist_ok=True)
            abnormal = split.endswith("_abnormal")
            file_names[split] = []
            for index in range(int(count)):
                rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
                phantom = draw(rng, (height, width), abnormal, lesion_scale)
                name = f"{split}_{index:04d}.png"
                _write_png(folder / name, phantom.image)
                if abnormal:
                    _write_png(mask_dir / name, phantom.lesion_mask.astype(np.uint8) * 255)
                file_names[split].append(name)

        if layout == "medad":
            write_medad_json(work, file_names)
        settings = {"layout": layout, "image_size": [height, width], "counts": counts, "seed": seed,
                    "lesion_scale": lesion_scale, "difficulty": difficulty}
        write_bytes(work / SETTINGS_FILE, json.dumps(settings, indent=2).encode())
    return out_dir


def difficulty_figure(per_row: int = 4, size: int = 64, seed: int = 0):
    """Chest phantoms of both presets side by side: for each, a row of normals and a row of
    abnormals with the lesion outlined in red. Returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1.6 * per_row, 1.7 * 2 * len(DIFFICULTIES)))
    axes = figure.subplots(2 * len(DIFFICULTIES), per_row)  # (rows, per_row)
    for block, difficulty in enumerate(DIFFICULTIES):
        for abnormal in (False, True):
            row = 2 * block + abnormal
            for column in range(per_row):
                rng = np.random.default_rng([seed, row, column])
                phantom = draw_chest(rng, size, abnormal, difficulty=difficulty)
                ax = axes[row, column]
                ax.imshow(phantom.image, cmap="gray", vmin=0, vmax=255)
                if abnormal:
                    ax.contour(phantom.lesion_mask, levels=[0.5], colors="red", linewidths=0.8)
                ax.set_xticks([])
                ax.set_yticks([])
            axes[row, 0].set_ylabel(f"{difficulty}\n{'abnormal' if abnormal else 'normal'}", fontsize=9)
    figure.suptitle("chest phantoms: easy vs subtle (red: lesion mask)", fontsize=10)
    figure.set_layout_engine("constrained")
    return figure
