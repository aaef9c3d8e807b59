"""The training feature bank: sliding-window features of every normal training image.

Shape (N_train, channels, positions), N_train the normal training images only. The authors hold
it in memory as float32: for the chest set's 1,349 normal training images that is
1,349 × 2048 × 784 × 4 bytes ≈ 8.7 GB, and their scoring subtracts each test image from the whole
bank, a temporary as large again. Here it is float16 (half that) and, given a
``path``, a ``.npy`` file on disk that is written image by image and read back one chunk at a
time through ``numpy.memmap``, so memory stays flat however many training images there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from anomaly_lib import distributed
from anomaly_lib.files import regular_file

from .sliding import sliding_window_features


def check_storable(features: torch.Tensor, dtype, what: str) -> None:
    """Refuse features that are NaN/infinite or too large for ``dtype`` (float16 stops at 65504).

    Features like that come from a model that has diverged (most often a too-large learning
    rate) even when its loss still looked finite; stored, they would turn every score into NaN.
    """
    limit = float(np.finfo(dtype).max)
    if features.numel() == 0 or features.abs().max() <= limit:  # NaN and inf fail this test too
        return
    finite = torch.isfinite(features)  # what went wrong, only when something did
    largest = float(features[finite].abs().max()) if finite.any() else float("nan")
    problem = (f"{int((~finite).sum())} of {features.numel()} values are NaN or infinite" if not finite.all()
               else f"the largest |value| is {largest:.3g}, more than {np.dtype(dtype).name} holds ({limit:.6g})")
    raise FloatingPointError(
        f"{what}: the model's features cannot be stored, {problem}. The model has diverged (its "
        "weights blew up), most often because the learning rate is too large: train again with a "
        "smaller --lr. Scores from these features would be meaningless."
    )


class FeatureBank:
    """Features (N, channels, positions) in memory, or in a ``.npy`` file when ``path`` is set.

    Fill it with ``append`` (in image order) and read it with ``chunks``; ``array`` gives the
    whole bank (a read-only ``numpy.memmap`` when it lives on disk).
    """

    def __init__(self, n_images: int, channels: int, positions: int, path=None, dtype=np.float16):
        self.shape = (n_images, channels, positions)
        self.dtype = np.dtype(dtype)
        self.path = Path(path) if path is not None else None
        self.filled = 0
        if self.path is None:
            self._array = np.empty(self.shape, dtype=self.dtype)
            self._offset = 0
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype),
                      "fortran_order": False, "shape": self.shape}
            with open(self.path, "wb") as f:
                np.lib.format.write_array_header_1_0(f, header)
                self._offset = f.tell()

    @classmethod
    def open(cls, path, whole: bool = True) -> FeatureBank:
        """A complete bank saved earlier as ``.npy``; a file that is not one, or is cut short, is
        refused in one line naming it. ``whole=False``: a file still being filled (``fill_from``)."""
        path = regular_file(path, "feature bank")
        redo = (f"delete {path} and run again: --mode predict builds the bank anew from the training images "
                "its calibration.json lists (or train again)")
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                offset = f.tell()
        except ValueError as error:  # numpy's words for a file that is not .npy
            raise ValueError(f"{path} is not a feature bank file ({error}); {redo}") from None
        if len(shape) != 3:
            raise ValueError(f"{path}: a feature bank is (N, channels, positions), got shape {shape}")
        needed, present = offset + int(np.prod(shape)) * np.dtype(dtype).itemsize, path.stat().st_size
        if whole and present < needed:
            raise ValueError(f"{path} is cut short: a bank of shape {tuple(shape)} needs {needed:,} bytes and the "
                             f"file holds {present:,} (its writing was interrupted); {redo}")
        bank = cls.__new__(cls)
        bank.shape, bank.dtype, bank.path = tuple(shape), np.dtype(dtype), Path(path)
        bank._offset, bank.filled = offset, shape[0]
        return bank

    @classmethod
    def fill_from(cls, path, index: int) -> FeatureBank:
        """A bank file that exists, ready to ``append`` images from ``index`` on.

        Several processes fill their shares of one file this way, each at its own offset.
        """
        bank = cls.open(path, whole=False)
        bank.filled = index
        return bank

    @classmethod
    def from_array(cls, features) -> FeatureBank:
        """An in-memory bank around existing features (N, channels, positions), kept as given."""
        array = features.numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
        bank = cls.__new__(cls)
        bank.shape, bank.dtype, bank.path = array.shape, array.dtype, None
        bank._array, bank._offset, bank.filled = array, 0, array.shape[0]
        return bank

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def append(self, features: torch.Tensor) -> None:
        """Add the features (n, channels, positions) of the next n images."""
        if tuple(features.shape[1:]) != self.shape[1:]:
            raise ValueError(f"features {tuple(features.shape)} do not fit a bank of {self.shape}")
        n = len(features)
        if self.filled + n > len(self):
            raise ValueError(f"the bank holds {len(self)} images; cannot add {n} after {self.filled}")
        check_storable(features, self.dtype, f"feature bank, training images {self.filled}–{self.filled + n - 1}")
        array = features.detach().cpu().numpy().astype(self.dtype, copy=False)
        if self.path is None:
            self._array[self.filled : self.filled + n] = array
        else:
            with open(self.path, "r+b") as f:
                f.seek(self._offset + self.filled * self._image_bytes)
                array.tofile(f)
        self.filled += n

    @property
    def _image_bytes(self) -> int:
        return self.shape[1] * self.shape[2] * self.dtype.itemsize

    def _check_full(self) -> None:
        if self.filled != len(self):
            raise RuntimeError(f"the bank is only filled with {self.filled} of {len(self)} images")

    @property
    def array(self) -> np.ndarray:
        """The whole bank: the in-memory array, or a read-only memmap of the file."""
        self._check_full()
        if self.path is None:
            return self._array
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=self._offset, shape=self.shape)

    def chunks(self, chunk_images: int = 16) -> Iterator[torch.Tensor]:
        """float32 tensors (≤ chunk_images, channels, positions), in image order.

        On disk each chunk is mapped on its own and released before the next one, so only one
        chunk is ever resident.
        """
        self._check_full()
        for start in range(0, len(self), chunk_images):
            n = min(chunk_images, len(self) - start)
            if self.path is None:
                part = self._array[start : start + n]
            else:
                part = np.memmap(self.path, dtype=self.dtype, mode="r", shape=(n, *self.shape[1:]),
                                 offset=self._offset + start * self._image_bytes)
            chunk = torch.from_numpy(np.array(part, dtype=np.float32))  # always a copy
            del part  # unmaps this chunk
            yield chunk


def build_feature_bank(
    model: torch.nn.Module,
    loader: DataLoader,
    patch_size: int,
    step_size: int,
    path=None,
    dtype=np.float16,
    chunk_size: int = 64,
    include_last: bool = False,
    progress: bool = True,
    desc: str = "feature bank",
) -> FeatureBank:
    """Sliding-window features of every image a loader of ``(image, label)`` batches yields.

    The model is put in eval mode; the bank is written batch by batch. Under torchrun each
    process extracts its contiguous share of the images into the one file at ``path``
    (``build_shared_bank``), and every process returns the whole bank.
    """
    model.eval()
    if distributed.world_size() > 1:
        return build_shared_bank(model, loader, patch_size, step_size, path, dtype, chunk_size, include_last,
                                 progress and distributed.is_main(), desc)
    bank = None
    for images, _ in tqdm(loader, desc=desc, unit="batch", disable=not progress):
        features = sliding_window_features(model, images, patch_size, step_size,
                                           chunk_size=chunk_size, include_last=include_last)  # (B, C, P)
        if bank is None:
            bank = FeatureBank(len(loader.dataset), features.shape[1], features.shape[2], path, dtype)
        bank.append(features)
    if bank is None:
        raise ValueError("build_feature_bank: the loader yielded no images")
    bank._check_full()
    return bank


def build_shared_bank(model, loader: DataLoader, patch_size: int, step_size: int, path, dtype=np.float16,
                      chunk_size: int = 64, include_last: bool = False, progress: bool = True,
                      desc: str = "feature bank") -> FeatureBank:
    """``build_feature_bank`` for several processes: one ``.npy`` file, each process writing its share.

    The processes meet three times (``distributed.together``, so an error in one, such as
    features float16 cannot hold, stops them all): after each has its first batch's features,
    after rank 0 has created the file from their shape, and after every share is written.
    """
    if path is None:
        raise ValueError("several processes build one feature bank through a file: give its path "
                         "(command line: leave out --bank_in_memory)")
    first_image = distributed.share(len(loader.dataset), "training images").start
    batches = iter(tqdm(distributed.my_share_of(loader, "training images"), desc=desc, unit="batch",
                        disable=not progress))

    def features_of(images):
        return sliding_window_features(model, images, patch_size, step_size,
                                       chunk_size=chunk_size, include_last=include_last)  # (B, C, P)

    with distributed.together():
        first = features_of(next(batches)[0])  # every share holds at least one image
    with distributed.together():
        if distributed.is_main():
            FeatureBank(len(loader.dataset), first.shape[1], first.shape[2], path, dtype)  # the file's header
    with distributed.together():
        bank = FeatureBank.fill_from(path, first_image)
        bank.append(first)
        for images, _ in batches:
            bank.append(features_of(images))
    return FeatureBank.open(path)
