"""Write small DICOM files with pydicom for the tests: plain images, DBT-like volumes, TIFF preambles."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"


def make_dataset(pixels: np.ndarray, photometric: str = "MONOCHROME2", bits_stored: int | None = None,
                 sop_class: str = SECONDARY_CAPTURE, **elements) -> Dataset:
    """A dataset holding ``pixels`` (uint8/uint16/int16; (H, W), (frames, H, W) or colour)."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = sop_class
    dataset.SOPClassUID = sop_class
    dataset.PatientID = "TEST"
    bits_stored = bits_stored or pixels.dtype.itemsize * 8
    dataset.set_pixel_data(pixels, photometric, bits_stored)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    return dataset


def save(dataset: Dataset, path, preamble: bytes | None = None) -> Path:
    """Save as a DICOM file (128-byte preamble, ``DICM``, file meta); returns the path."""
    path = Path(path)
    dataset.preamble = preamble if preamble is not None else b"\0" * 128
    dataset.save_as(path, enforce_file_format=True)
    return path


def write_dicom(path, pixels: np.ndarray, photometric: str = "MONOCHROME2",
                bits_stored: int | None = None, **elements) -> Path:
    """One-call version of ``make_dataset`` + ``save``."""
    return save(make_dataset(pixels, photometric, bits_stored, **elements), path)


def voi_lut_item(first_map: int, table) -> Dataset:
    """A VOI LUT Sequence item: 16-bit entries for stored values first_map, first_map + 1, ..."""
    item = Dataset()
    item.add_new(0x00283002, "US", [len(table), first_map, 16])  # LUT Descriptor
    item.add_new(0x00283006, "OW", np.asarray(table, "<u2").tobytes())  # LUT Data
    return item


def tiff_preamble(width: int, height: int, strip_offset: int) -> bytes:
    """A 128-byte preamble holding a little-endian TIFF header for 16-bit grey pixels.

    Its one strip points at ``strip_offset``, the DICOM pixel data, so PIL opens the
    file as a 16-bit TIFF: the kind of dual-format file that read as all white.
    """
    entries = [  # (tag, type 3 = SHORT or 4 = LONG, value)
        (256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1),
        (273, 4, strip_offset), (278, 4, height), (279, 4, width * height * 2),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    header = b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)
    return header.ljust(128, b"\0")


def save_with_tiff_preamble(dataset: Dataset, path) -> Path:
    """Save ``dataset`` so that its preamble is a TIFF header pointing at its pixel data."""
    path = save(dataset, path)
    pixels = bytes(dataset.PixelData)
    offset = path.read_bytes().index(pixels)  # where the pixel values start in the file
    return save(dataset, path, tiff_preamble(int(dataset.Columns), int(dataset.Rows), offset))


def write_dbt_volume(path, volume: np.ndarray, window: tuple[float, float] | None = (2000, 3000),
                     **elements) -> Path:
    """A breast-tomosynthesis-like enhanced multi-frame file: (slices, H, W) uint16.

    As in the collection's files, the window sits in the shared functional groups
    (Frame VOI LUT Sequence), not at the top level.
    """
    dataset = make_dataset(volume.astype(np.uint16), "MONOCHROME2", 16, sop_class=BREAST_TOMOSYNTHESIS,
                           **elements)
    if window is not None:
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = window
        shared = Dataset()
        shared.FrameVOILUTSequence = [voi]
        dataset.SharedFunctionalGroupsSequence = [shared]
    return save(dataset, path)
