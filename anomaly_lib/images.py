"""Read image files as grey uint8 arrays: one documented path from any supported file to (H, W).

Supported files: PNG and TIFF with 8 or 16 bits, JPEG, BMP, and DICOM. A file is DICOM
when its name ends in ``.dcm`` or when it holds the DICOM magic ``DICM`` at byte 128
(whatever its name); that test runs before PIL sees the file, because some DICOM files
carry a TIFF header in their 128-byte preamble and PIL would open them as an image.

Every file takes the same path to grey uint8 ``(H, W)``:

1. **Decode.** PIL for PNG, TIFF, JPEG and BMP; pydicom for DICOM. Compressed DICOM
   (JPEG 2000, JPEG lossless, JPEG-LS, RLE) needs pydicom's decoder plugins, installed by
   ``pip install -e ".[dicom]"`` (pydicom, pylibjpeg, pylibjpeg-openjpeg, pylibjpeg-libjpeg).
2. **Colour to grey.** RGB, palette, CMYK and the like become grey by PIL's ``"L"``
   conversion, the ITU-R 601-2 luma ``L = 0.299 R + 0.587 G + 0.114 B``; an alpha
   channel is dropped. Colour DICOM (RGB, YBR, PALETTE COLOR) is turned into 8-bit RGB
   by pydicom (colour channels of more than 8 bits are scaled by their nominal
   maximum) and then takes the same luma.
3. **More than 8 bits to 8 bits** (16-bit PNG and TIFF, 32-bit or float TIFF, and all
   grey DICOM), never by clipping to 255:

   a. DICOM only: the *modality LUT* (Rescale Slope and Intercept, or a Modality LUT
      Sequence), through ``pydicom.pixels.apply_modality_lut``.
   b. DICOM only: the *VOI LUT* when the file has one: the VOI LUT Sequence, else
      Window Center / Window Width (the first window when several are listed), through
      ``pydicom.pixels.apply_voi_lut``. The ends of the VOI output (for a window, the
      values it gives below and above the window; for a VOI LUT, its smallest and largest
      entry) become 0 and 255.
   c. Otherwise the image's **own range**: its minimum becomes 0, its maximum 255,
      linearly. We chose the full range over a percentile window because nothing is
      clipped: every stored value keeps its order, the darkest background stays exactly
      0, and the brightest pixels (bone, metal, a small dense lesion, which an anomaly
      detector must see) are not flattened into one value. The price: a few extreme
      pixels (burned-in text, a marker) leave less contrast for the rest. Such files
      are better exported with a window. A constant image becomes all 0.

   Values are rounded to the nearest integer. Enhanced multi-frame DICOM (a DBT volume)
   keeps its rescale and window in functional-group sequences; they are read from there.
   Grey 8-bit files pass unchanged, and so does 8-bit unsigned DICOM data without a
   modality rescale (other than slope 1, intercept 0) or VOI LUT.
4. **MONOCHROME1** DICOM (where a high value is dark) is inverted, ``255 - v``, so that
   air is dark, as in MONOCHROME2 and every other format.

Multi-frame DICOM (a DBT volume) is a stack of slices: ``read_grey`` and
``load_grayscale`` take the **middle** slice, index ``n_frames // 2``; ``read_frames``
returns the whole stack (or chosen slices) as ``(frames, H, W)``, with step 3c taken
over all the frames read, so that slices keep their relative brightness. Other
formats hold one frame here (a multi-page TIFF gives its first page).

Each load call that mapped more than 8 bits to 8 warns once (``BitDepthWarning``) with
how many files took which mapping.

Unreadable files: every file is tried, then one ``ImageLoadError`` lists all bad files
with a reason each. An image with more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``
(about 89 million by default, PIL's guard against decompression bombs) is one of them;
for real large images raise that limit before loading (``None`` turns it off), or give
``--max-pixels`` to ``python -m anomaly_lib prepare``. The same limit applies to each
DICOM frame. Before anything is allocated, the size a file declares is checked against the
bytes it holds: an uncompressed DICOM's rows × columns × frames × samples × bytes per sample
must fit in the file (a compressed one needs at least 8 bytes per frame); an uncompressed BMP,
TIFF or PPM needs at least one bit per pixel, and a PNG that bit compressed no more than zlib
can (1032 : 1). JPEG and compressed TIFF have no such bound: only the pixel limit above.
A FIFO, device or socket
is refused before it is opened (``anomaly_lib.files.regular_file``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .files import DiskFullError, regular_file
from .layouts import IMAGE_EXTENSIONS

RESAMPLE_FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
}
DICOM_EXTRA = 'pip install -e ".[dicom]" (pydicom, pylibjpeg, pylibjpeg-openjpeg, pylibjpeg-libjpeg)'
HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")  # PIL modes of more than 8 bits
ZLIB_MAX_RATIO = 1032  # deflate never shrinks data more than this (5 bytes of output per 1032·5 input)
# the fewest bits per pixel a file must hold, by PIL decoder: uncompressed data (BMP, TIFF, PPM) at
# least 1, PNG's deflated data at least 1 / 1032; others (JPEG, compressed TIFF) only get PIL's limit
LEAST_BITS_PER_PIXEL = {"raw": 1.0, "zip": 1.0 / ZLIB_MAX_RATIO}
MIN_BYTES_PER_ENCAPSULATED_FRAME = 8  # a compressed DICOM frame is at least one item header
# enhanced multi-frame DICOM keeps a frame's rescale and window in these functional groups
FRAME_LUT_GROUPS = ("PixelValueTransformationSequence", "FrameVOILUTSequence")


class ImageLoadError(OSError):
    """Some image files were missing or unreadable; ``bad_paths`` lists all of them."""

    def __init__(self, bad_paths: list[Path], n_total: int, reasons: list[str]):
        self.bad_paths, self.n_total, self.reasons = bad_paths, n_total, reasons
        shown = "\n".join(f"  {path}: {reason}" for path, reason in zip(bad_paths[:5], reasons))
        more = f"\n  ... and {len(bad_paths) - 5} more" if len(bad_paths) > 5 else ""
        super().__init__(f"{len(bad_paths)} of {n_total} images could not be read:\n{shown}{more}")

    def __reduce__(self):
        # rebuild from our own arguments, so the error can cross process boundaries (pickle)
        return type(self), (self.bad_paths, self.n_total, self.reasons)


class BitDepthWarning(UserWarning):
    """16-bit or DICOM images were mapped to 0-255 (the rules are in the module docstring)."""


def as_height_width(size) -> tuple[int, int]:
    """``64`` -> (64, 64); ``(256, 192)`` -> (256, 192) as (height, width)."""
    if isinstance(size, (int, np.integer)):
        height = width = int(size)
    else:
        height, width = (int(side) for side in size)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive; got {size!r}")
    return height, width


# ---------------------------------------------------------------------------- to 8 bits


def to_uint8(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Map ``low`` -> 0 and ``high`` -> 255 linearly and round; default: the array's own range.

    Values outside [low, high] cannot occur with the defaults; with given ends they
    are held at 0 or 255 (the VOI step already put them there).
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("pixel values include NaN or infinity")
    low = values.min() if low is None else low
    high = values.max() if high is None else high
    if high <= low:  # a constant image
        return np.zeros(values.shape, np.uint8)
    scaled = (values - low) / (high - low) * 255
    return np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)


def is_dicom(path) -> bool:
    """True for a ``.dcm`` file, or for any file with the DICOM magic ``DICM`` at byte 128."""
    path = Path(path)
    if path.suffix.lower() == ".dcm":
        return True
    regular_file(path)  # a FIFO would wait forever in open()
    with open(path, "rb") as file:
        return file.read(132)[128:132] == b"DICM"


def is_image_file(path) -> bool:
    """Whether a folder search should take ``path``: a visible file with an image extension
    (``layouts.IMAGE_EXTENSIONS``), or a DICOM file under any name (e.g. a UID ``1.2.840.5``)."""
    path = Path(path)
    if path.name.startswith(".") or not path.is_file():
        return False
    return path.suffix.lower() in IMAGE_EXTENSIONS or is_dicom(path)


def _check_pixel_count(height: int, width: int) -> None:
    """Refuse an image over PIL's decompression-bomb limit, the same way for every format."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and height * width > limit:
        raise Image.DecompressionBombError(
            f"image size ({height * width} pixels) exceeds limit of {limit} pixels"
        )


def _check_declared_bytes(path: Path, least: float, declared: str) -> None:
    """Refuse a file too small to hold what its header declares, before anything is allocated."""
    size = os.path.getsize(path)
    if least > size:
        raise ValueError(f"its header declares {declared}, which needs at least {math.ceil(least):,} bytes, "
                         f"but the file holds {size:,}: damaged or forged, refused before reading the pixels")


# ---------------------------------------------------------------------------- PIL formats


def _read_pil(path: Path) -> tuple[np.ndarray, str | None]:
    """PNG, TIFF, JPEG, BMP -> grey uint8 (1, H, W) and how it was mapped (None: as stored)."""
    with Image.open(path) as image:
        _check_pixel_count(image.height, image.width)  # PIL checks on open too; same rule
        decoder = image.tile[0][0] if image.tile else None
        if decoder in LEAST_BITS_PER_PIXEL:
            least = image.width * image.height * LEAST_BITS_PER_PIXEL[decoder] / 8
            _check_declared_bytes(path, least, f"a {image.width}×{image.height} {image.format}")
        if image.mode in HIGH_DEPTH_MODES:
            return to_uint8(np.asarray(image))[None], "own min-max range"
        return np.asarray(image.convert("L"), dtype=np.uint8)[None], None


# ---------------------------------------------------------------------------- DICOM


def _import_pydicom():
    """pydicom, imported on first use: only DICOM files need it (the ``dicom`` extra)."""
    try:
        import pydicom
        import pydicom.pixels
    except ImportError as error:
        raise ImportError(f"reading DICOM needs pydicom and its decoders: {DICOM_EXTRA}") from error
    return pydicom


def _check_decoder(pydicom, dataset) -> None:
    """Name the transfer syntax and the extra to install when no decoder plugin is there."""
    syntax = getattr(dataset, "file_meta", {}).get("TransferSyntaxUID")
    if syntax is None or not syntax.is_compressed:
        return
    try:
        decoder = pydicom.pixels.get_decoder(syntax)
    except NotImplementedError as error:
        raise NotImplementedError(f"pydicom cannot decode transfer syntax {syntax.name} ({syntax})") from error
    if not decoder.is_available:
        raise RuntimeError(
            f"transfer syntax {syntax.name} ({syntax}) needs a decoder plugin that is not "
            f"installed: {DICOM_EXTRA}"
        )


def _check_dicom_size(path: Path, dataset) -> int:
    """The frame count the header declares, once the declared pixel bytes fit in the file."""
    n_frames = int(dataset.get("NumberOfFrames") or 1)
    rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
    syntax = getattr(dataset, "file_meta", {}).get("TransferSyntaxUID")
    if syntax is not None and syntax.is_encapsulated:
        least = n_frames * MIN_BYTES_PER_ENCAPSULATED_FRAME
        declared = f"{n_frames:,} compressed frame(s)"
    else:
        samples, bits = int(dataset.get("SamplesPerPixel") or 1), int(dataset.get("BitsAllocated") or 8)
        least = rows * columns * n_frames * samples * bits / 8
        declared = f"{n_frames:,} frame(s) of {rows}×{columns} × {samples} sample(s) of {bits} bits"
    _check_declared_bytes(path, least, declared)
    return n_frames


def _use_frame_luts(dataset, index: int) -> None:
    """Copy frame ``index``'s rescale and window from functional groups to the top level.

    Enhanced multi-frame files (such as DBT volumes) keep them in the per-frame or the
    shared functional groups, where pydicom's LUT functions do not look. A frame's own
    group wins over the shared one.
    """
    groups = []
    if "PerFrameFunctionalGroupsSequence" in dataset:
        groups.append(dataset.PerFrameFunctionalGroupsSequence[index])
    if "SharedFunctionalGroupsSequence" in dataset:
        groups.append(dataset.SharedFunctionalGroupsSequence[0])
    for name in FRAME_LUT_GROUPS:
        for group in groups:
            if group.get(name):
                for element in group[name][0]:
                    dataset[element.tag] = element
                break


def _grey_dicom_frame(pydicom, dataset, raw: np.ndarray) -> tuple[np.ndarray, str | None]:
    """One grey frame -> values after modality and VOI LUT, and the VOI output's ends.

    The ends are None when the file has no VOI LUT (the caller then uses the own range).
    """
    values = pydicom.pixels.apply_modality_lut(raw, dataset)
    if not (dataset.get("VOILUTSequence") or "WindowCenter" in dataset):
        return values, None
    if dataset.get("VOILUTSequence"):
        values = np.rint(values).astype(np.int64)  # a lookup table indexes whole numbers
        n_entries, first_map = (int(number) for number in dataset.VOILUTSequence[0].LUTDescriptor[:2])
        probes = np.arange(first_map, first_map + (n_entries or 2**16))  # every entry of the table
    else:
        probes = np.array([-1e300, 1e300])  # far below and far above the window
    # the same VOI applied to the probes gives the two ends of its output
    ends = pydicom.pixels.apply_voi_lut(probes, dataset).astype(np.float64)
    return pydicom.pixels.apply_voi_lut(values, dataset), (ends.min(), ends.max())


def _describe_dicom(dataset, as_stored: bool) -> str:
    """How a grey DICOM file was mapped, e.g. "DICOM rescale slope/intercept -> own min-max range"."""
    steps = []
    if dataset.get("ModalityLUTSequence"):
        steps.append("DICOM modality LUT")
    elif "RescaleSlope" in dataset and "RescaleIntercept" in dataset:
        steps.append("DICOM rescale slope/intercept")
    if dataset.get("VOILUTSequence"):
        steps.append("DICOM VOI LUT")
    elif "WindowCenter" in dataset:
        steps.append("DICOM window centre/width")
    elif not as_stored:
        steps.append("own min-max range")
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        steps.append("MONOCHROME1 inverted")
    return " -> ".join(steps)


def _colour_to_grey(pydicom, dataset, rgb: np.ndarray) -> np.ndarray:
    """Colour DICOM frames (k, H, W, 3) -> grey uint8 (k, H, W) by the luma rule of PIL's "L"."""
    if dataset.PhotometricInterpretation == "PALETTE COLOR":
        rgb = pydicom.pixels.apply_color_lut(rgb, dataset)
    if rgb.dtype != np.uint8:  # 16-bit channels (or a 16-bit palette): scale by the nominal maximum
        bits = 16 if dataset.PhotometricInterpretation == "PALETTE COLOR" else int(dataset.BitsStored)
        rgb = np.rint(rgb.astype(np.float64) * (255.0 / (2**bits - 1))).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(frame, "RGB").convert("L")) for frame in rgb])


def _read_dicom(path: Path, frames) -> tuple[np.ndarray, str | None]:
    """DICOM -> grey uint8 (k, H, W) and how it was mapped; ``frames`` as in ``read_image``."""
    pydicom = _import_pydicom()
    dataset = pydicom.dcmread(path, force=True)  # force: a .dcm file without the 128-byte preamble
    if "PixelData" not in dataset:
        raise ValueError("DICOM file without pixel data (not an image)")
    _check_decoder(pydicom, dataset)
    _check_pixel_count(int(dataset.Rows), int(dataset.Columns))
    n_frames = _check_dicom_size(path, dataset)
    if frames == "middle":
        frames = [n_frames // 2]
    elif frames is None:
        frames = list(range(n_frames))
    for index in frames:
        if not 0 <= index < n_frames:
            raise IndexError(f"frame {index} asked for, but the file has {n_frames} frame(s)")
    if frames == list(range(n_frames)):  # decode everything at once
        raw = pydicom.pixels.pixel_array(dataset)
        raw = raw[None] if n_frames == 1 else raw  # (frames, H, W), or (frames, H, W, 3) in colour
    else:  # decode only the frames asked for
        raw = np.stack([pydicom.pixels.pixel_array(dataset, index=index) for index in frames])

    photometric = dataset.get("PhotometricInterpretation", "MONOCHROME2")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return _colour_to_grey(pydicom, dataset, raw), None

    images, unwindowed = [], []
    for position, (index, frame) in enumerate(zip(frames, raw)):
        _use_frame_luts(dataset, index)
        values, ends = _grey_dicom_frame(pydicom, dataset, frame)
        if ends is None:
            unwindowed.append(position)
            images.append(values.astype(np.float32))  # mapped below, once the range is known
        else:
            images.append(to_uint8(values, *ends))
    as_stored = False
    if unwindowed:  # no VOI: the own range of all those frames together
        low = min(images[position].min() for position in unwindowed)
        high = max(images[position].max() for position in unwindowed)
        identity = not dataset.get("ModalityLUTSequence") and (
            float(dataset.get("RescaleSlope", 1)), float(dataset.get("RescaleIntercept", 0))) == (1, 0)
        as_stored = identity and int(dataset.BitsStored) <= 8 and 0 <= low and high <= 255
        if as_stored:  # 8-bit data in 0-255 pass unchanged, as an 8-bit PNG does
            low, high = 0, 255
        for position in unwindowed:
            images[position] = to_uint8(images[position], low, high)
    images = np.stack(images)  # (frames, H, W) uint8
    if photometric == "MONOCHROME1":
        images = 255 - images
    elif as_stored:
        return images, None  # nothing changed
    return images, _describe_dicom(dataset, as_stored)


# ---------------------------------------------------------------------------- one file


def read_image(path, frames="middle") -> tuple[np.ndarray, str | None]:
    """Any supported file -> grey uint8 (k, H, W), and how it was mapped to 8 bits (None: as stored).

    The core of this module, without warnings and without the bad-file list (errors are
    raised as they come). ``frames``: "middle" (the 2-D readers), None (all frames) or a
    list of frame indices.
    """
    path = regular_file(path)
    if is_dicom(path):
        return _read_dicom(path, frames)
    images, mapping = _read_pil(path)
    if frames not in ("middle", None) and list(frames) != [0]:
        raise IndexError(f"frames {list(frames)} asked for, but {path.suffix or 'this'} files hold one frame here")
    return images, mapping


def _reason(error: Exception) -> str:
    """Why a file could not be read, in one line for ``ImageLoadError``."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return (
            f"too large: {error}. PIL refuses images over PIL.Image.MAX_IMAGE_PIXELS "
            f"({Image.MAX_IMAGE_PIXELS}) as possible decompression bombs; for a real large image "
            "raise it before loading (PIL.Image.MAX_IMAGE_PIXELS = N, or None for no limit; "
            "`python -m anomaly_lib prepare` takes --max-pixels N)"
        )
    return f"{type(error).__name__}: {error}"


@contextmanager
def _bombs_are_errors():
    """Within this block, PIL's DecompressionBombWarning (limit to 2x limit) is an error too.

    The filter is process-wide, so the loader's worker threads see it; the workers
    themselves never touch the filters.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def describe_mappings(mappings) -> str | None:
    """"own min-max range (3), DICOM window centre/width (2)" for a list of mappings; None if none."""
    counts = Counter(mapping for mapping in mappings if mapping is not None)
    if not counts:
        return None
    return ", ".join(f"{mapping} ({count})" for mapping, count in sorted(counts.items()))


def _warn_mappings(mappings, what: str) -> None:
    how = describe_mappings(mappings)
    if how:
        n_mapped = sum(mapping is not None for mapping in mappings)
        warnings.warn(
            f"{what}: {n_mapped} of {len(mappings)} images (16-bit or DICOM) were "
            f"mapped to 0-255 by: {how}. The rules are in anomaly_lib/images.py.",
            BitDepthWarning,
            stacklevel=3,
        )


def frame_count(path) -> int:
    """How many frames (slices) a file holds: NumberOfFrames of a DICOM file, else 1."""
    if not is_dicom(path):
        return 1
    pydicom = _import_pydicom()
    header = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    try:
        return _check_dicom_size(Path(path), header)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def map_files(function, paths, workers: int | None = None, desc: str = "reading images",
              progress: bool = True) -> list:
    """``function(path)`` for every path, in threads; one ``ImageLoadError`` lists every failure.

    Every file is tried before the error is raised. Used by ``load_grayscale`` and by
    ``prepare``, so both report bad files the same way.
    """
    paths = [Path(path) for path in paths]

    def run_one(path: Path):
        try:
            return function(path), None
        except (MemoryError, DiskFullError):  # not the file's fault: stop at once
            raise
        except Exception as error:  # noqa: BLE001 - any failure is reported with its file
            return None, _reason(error)

    with _bombs_are_errors(), ThreadPoolExecutor(max_workers=workers) as executor:
        results = list(tqdm(executor.map(run_one, paths), total=len(paths), desc=desc, disable=not progress))
    failures = [(path, reason) for path, (_, reason) in zip(paths, results) if reason is not None]
    if failures:
        bad_paths, reasons = zip(*failures)
        raise ImageLoadError(list(bad_paths), len(paths), list(reasons))
    return [result for result, _ in results]


def read_grey(path, frame: int | None = None) -> np.ndarray:
    """One file -> grey uint8 (H, W) at its own size; a multi-frame DICOM gives ``frame``.

    ``frame=None`` takes the middle frame (``n_frames // 2``). Raises ``ImageLoadError``.
    """
    frames = "middle" if frame is None else [frame]
    (images, mapping), = map_files(lambda one: read_image(one, frames), [path], workers=1, progress=False)
    _warn_mappings([mapping], "read_grey")
    return images[0]


def read_frames(path, frames=None) -> np.ndarray:
    """All frames of a file (or those listed in ``frames``) -> grey uint8 (k, H, W).

    A DBT volume gives its slices; a one-frame file gives (1, H, W). Without a window
    in the file, the own-range rule spans all frames read. Raises ``ImageLoadError``.
    """
    frames = None if frames is None else [int(index) for index in frames]
    (images, mapping), = map_files(lambda one: read_image(one, frames), [path], workers=1, progress=False)
    _warn_mappings([mapping], "read_frames")
    return images


def resize_grey(image: np.ndarray, size, resample: str = "bilinear") -> np.ndarray:
    """Grey uint8 (H, W) -> (height, width) of ``size`` with PIL's filter; unchanged if it fits."""
    height, width = as_height_width(size)
    if image.shape == (height, width):
        return image
    resized = Image.fromarray(image).resize((width, height), resample=RESAMPLE_FILTERS[resample])
    return np.asarray(resized)  # PIL sizes are (width, height)


def load_grayscale(
    paths,
    size,
    resample: str = "bilinear",
    workers: int | None = None,
    desc: str = "loading images",
    progress: bool = True,
) -> np.ndarray:
    """Load image files as grey, resized to ``size``: uint8 array (N, H, W).

    ``size`` is an int (square) or ``(height, width)``. Each file goes through the path of
    the module docstring (a multi-frame DICOM gives its middle frame). If any file is
    missing or unreadable, one ``ImageLoadError`` (an ``OSError``) lists the first five
    and the total count, after all files were tried.
    """
    paths = [Path(path) for path in paths]
    if not paths:
        raise ValueError("load_grayscale got an empty list of paths")
    if resample not in RESAMPLE_FILTERS:
        raise ValueError(f"resample must be one of {list(RESAMPLE_FILTERS)}; got {resample!r}")
    as_height_width(size)  # check it before any file is read

    def load_one(path: Path):
        images, mapping = read_image(path)
        return resize_grey(images[0], size, resample), mapping

    results = map_files(load_one, paths, workers, desc, progress)
    _warn_mappings([mapping for _, mapping in results], "load_grayscale")
    return np.stack([image for image, _ in results])  # N x (H, W) -> (N, H, W)
