"""DICOM through anomaly_lib.images: files written here with pydicom, expected arrays computed here."""

import sys

import numpy as np
import pytest
from PIL import Image
from pydicom.pixels import get_encoder
from pydicom.pixels.common import CoderBase
from pydicom.uid import JPEG2000Lossless, RLELossless

from anomaly_lib.images import (
    BitDepthWarning,
    ImageLoadError,
    load_grayscale,
    read_frames,
    read_grey,
)
from tests.dicom_writer import (
    make_dataset,
    save,
    save_with_tiff_preamble,
    voi_lut_item,
    write_dbt_volume,
    write_dicom,
)

pytestmark = pytest.mark.filterwarnings("ignore::anomaly_lib.images.BitDepthWarning")

# a 12-bit image with a bit of everything: 0 ... 4095 over 8 x 16 pixels
STORED = (np.arange(128, dtype=np.uint16).reshape(8, 16) * 32).clip(0, 4095)


def own_range(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.rint((values - values.min()) / (values.max() - values.min()) * 255).astype(np.uint8)


def linear_window(values, center, width) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 (LINEAR) with the output range 0..255, written out."""
    values = np.asarray(values, dtype=np.float64)
    center, width = center - 0.5, width - 1
    out = ((values - center) / width + 0.5) * 255
    out[values <= center - width / 2] = 0
    out[values > center + width / 2] = 255
    return np.rint(out).astype(np.uint8)


def test_rescale_then_own_range(tmp_path):
    path = write_dicom(tmp_path / "ct.dcm", STORED, bits_stored=12, RescaleSlope=2, RescaleIntercept=-1024)
    with pytest.warns(BitDepthWarning, match="rescale slope/intercept -> own min-max range"):
        image = read_grey(path)
    np.testing.assert_array_equal(image, own_range(STORED * 2.0 - 1024))


def test_rescale_then_window(tmp_path):
    # hounsfield units = 2 * stored - 1024; a window of centre 40, width 400 on them
    path = write_dicom(tmp_path / "ct.dcm", STORED, bits_stored=12, RescaleSlope=2, RescaleIntercept=-1024,
                       WindowCenter=40, WindowWidth=400)
    expected = linear_window(STORED * 2.0 - 1024, 40, 400)
    np.testing.assert_array_equal(read_grey(path), expected)
    assert 0 < (expected == 0).sum() and 0 < (expected == 255).sum()  # both ends reached


def test_monochrome1_is_inverted_so_air_is_dark(tmp_path):
    plain = write_dicom(tmp_path / "m2.dcm", STORED, bits_stored=12, WindowCenter=2000, WindowWidth=3000)
    inverted = write_dicom(tmp_path / "m1.dcm", STORED, "MONOCHROME1", bits_stored=12,
                           WindowCenter=2000, WindowWidth=3000)
    expected = linear_window(STORED, 2000, 3000)
    np.testing.assert_array_equal(read_grey(plain), expected)
    np.testing.assert_array_equal(read_grey(inverted), 255 - expected)
    assert read_grey(inverted)[0, 0] == 255  # stored 0 is white in MONOCHROME1


def test_voi_lut_sequence_wins_over_the_window(tmp_path):
    table = (np.linspace(0, 1, 64) ** 2 * 4000 + 50).astype(int)  # a curve, entries 50 ... 4050
    dataset = make_dataset(STORED, bits_stored=12, WindowCenter=100, WindowWidth=10)
    dataset.VOILUTSequence = [voi_lut_item(1000, table)]
    path = save(dataset, tmp_path / "lut.dcm")
    looked_up = table[np.clip(STORED.astype(int) - 1000, 0, len(table) - 1)]
    expected = np.rint((looked_up - table.min()) / (table.max() - table.min()) * 255).astype(np.uint8)
    with pytest.warns(BitDepthWarning, match="VOI LUT"):
        np.testing.assert_array_equal(read_grey(path), expected)


def test_signed_pixels(tmp_path):
    stored = (STORED.astype(np.int16) - 2048)
    path = write_dicom(tmp_path / "signed.dcm", stored, bits_stored=12, WindowCenter=0, WindowWidth=2000)
    np.testing.assert_array_equal(read_grey(path), linear_window(stored, 0, 2000))


def test_8_bit_dicom_without_window_passes_unchanged(tmp_path, recwarn):
    values = np.arange(200, dtype=np.uint8).reshape(10, 20) + 20
    np.testing.assert_array_equal(read_grey(write_dicom(tmp_path / "eight.dcm", values)), values)
    assert not [warning for warning in recwarn if issubclass(warning.category, BitDepthWarning)]


def test_colour_dicom_becomes_grey_by_the_luma_rule(tmp_path):
    colours = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [200, 120, 40]]], np.uint8)
    path = write_dicom(tmp_path / "rgb.dcm", colours, "RGB")
    np.testing.assert_allclose(read_grey(path), np.rint(colours @ [0.299, 0.587, 0.114]), atol=1)


def test_multi_frame_middle_slice_and_whole_stack(tmp_path):
    volume = np.stack([STORED // 4 + 100 * k for k in range(5)])  # slices differ in brightness
    path = write_dicom(tmp_path / "volume.dcm", volume, bits_stored=12)
    joint = own_range(volume)  # one own range over the whole stack
    stack = read_frames(path)
    assert stack.shape == (5, 8, 16) and stack.dtype == np.uint8
    np.testing.assert_array_equal(stack, joint)
    np.testing.assert_array_equal(read_frames(path, [4, 1]), own_range(volume[[4, 1]]))
    # the 2-D readers take the middle slice, 5 // 2 = 2, mapped by its own range
    np.testing.assert_array_equal(read_grey(path), own_range(volume[2]))
    np.testing.assert_array_equal(read_grey(path, frame=0), own_range(volume[0]))
    np.testing.assert_array_equal(load_grayscale([path], (8, 16), progress=False)[0], own_range(volume[2]))
    with pytest.raises(ImageLoadError, match="frame 7 asked for, but the file has 5 frame"):
        read_grey(path, frame=7)


def test_window_in_shared_functional_groups_of_a_dbt_volume(tmp_path):
    volume = np.stack([STORED, STORED + 50, STORED + 100])
    path = write_dbt_volume(tmp_path / "dbt.dcm", volume, window=(1500, 2000))
    np.testing.assert_array_equal(read_frames(path), linear_window(volume, 1500, 2000))


def test_dicom_found_by_its_magic_whatever_the_name(tmp_path):
    expected = own_range(STORED)
    no_extension = write_dicom(tmp_path / "IM000001", STORED, bits_stored=12)
    misnamed = write_dicom(tmp_path / "scan.png", STORED, bits_stored=12)
    for path in (no_extension, misnamed):
        np.testing.assert_array_equal(read_grey(path), expected)


def test_preamble_holding_a_tiff_header_is_read_as_dicom(tmp_path):
    dataset = make_dataset(STORED, bits_stored=12, WindowCenter=2000, WindowWidth=3000)
    path = save_with_tiff_preamble(dataset, tmp_path / "dual.tif")
    with Image.open(path) as as_tiff:  # the trap: PIL takes it for a 16-bit TIFF
        assert as_tiff.mode == "I;16" and (np.asarray(as_tiff.convert("L")) == 255).mean() > 0.9  # white
    np.testing.assert_array_equal(read_grey(path), linear_window(STORED, 2000, 3000))


def test_rle_compressed_dicom_reads_as_the_uncompressed_one(tmp_path):
    dataset = make_dataset(STORED, bits_stored=12, WindowCenter=2000, WindowWidth=3000)
    plain = save(dataset, tmp_path / "plain.dcm")
    dataset.compress(RLELossless)
    compressed = save(dataset, tmp_path / "rle.dcm")
    np.testing.assert_array_equal(read_grey(compressed), read_grey(plain))


@pytest.mark.skipif(not get_encoder(JPEG2000Lossless).is_available, reason="no JPEG 2000 encoder installed")
def test_jpeg2000_compressed_dicom(tmp_path):
    stored = np.tile(STORED, (8, 4))  # 64 x 64: the encoder's default resolutions need some size
    dataset = make_dataset(stored, bits_stored=12, RescaleSlope=2, RescaleIntercept=-1024)
    dataset.compress(JPEG2000Lossless)
    path = save(dataset, tmp_path / "j2k.dcm")
    np.testing.assert_array_equal(read_grey(path), own_range(stored * 2.0 - 1024))


def test_missing_decoder_names_file_syntax_and_extra(tmp_path, monkeypatch):
    dataset = make_dataset(STORED, bits_stored=12)
    dataset.compress(RLELossless)
    path = save(dataset, tmp_path / "rle.dcm")
    monkeypatch.setattr(CoderBase, "is_available", property(lambda self: False))  # as if not installed
    with pytest.raises(ImageLoadError) as error:
        load_grayscale([path], 8, progress=False)
    message = str(error.value)
    assert str(path) in message and "RLE Lossless" in message and RLELossless in message
    assert 'pip install -e ".[dicom]"' in message


def test_missing_pydicom_names_file_and_extra(tmp_path, monkeypatch):
    path = write_dicom(tmp_path / "a.dcm", STORED, bits_stored=12)
    for name in [name for name in sys.modules if name == "pydicom" or name.startswith("pydicom.")]:
        monkeypatch.setitem(sys.modules, name, None)  # import pydicom now fails
    with pytest.raises(ImageLoadError) as error:
        read_grey(path)
    assert str(path) in str(error.value) and 'pip install -e ".[dicom]"' in str(error.value)


def test_non_image_dicom_is_a_bad_file(tmp_path):
    dataset = make_dataset(STORED, bits_stored=12)
    del dataset.PixelData
    path = save(dataset, tmp_path / "report.dcm")
    with pytest.raises(ImageLoadError, match="without pixel data"):
        read_grey(path)
