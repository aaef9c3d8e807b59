import pickle

import numpy as np
import pytest
from PIL import Image

from anomaly_lib.images import (
    BitDepthWarning,
    ImageLoadError,
    as_height_width,
    load_grayscale,
    read_grey,
)


def save_image(path, array):
    Image.fromarray(array).save(path)
    return path


def test_loads_grey_uint8_resized_in_order(tmp_path):
    paths = [
        save_image(tmp_path / "dark.png", np.full((10, 10), 20, np.uint8)),
        save_image(tmp_path / "rgb.jpg", np.full((30, 40, 3), 200, np.uint8)),
        save_image(tmp_path / "mid.png", np.full((7, 5), 120, np.uint8)),
    ]
    images = load_grayscale(paths, 16, progress=False)
    assert images.shape == (3, 16, 16) and images.dtype == np.uint8
    np.testing.assert_allclose(images.mean(axis=(1, 2)), [20, 200, 120], atol=2)


def test_size_is_height_then_width(tmp_path):
    left_dark_right_bright = np.zeros((20, 40), np.uint8)  # 20 high, 40 wide
    left_dark_right_bright[:, 20:] = 255
    path = save_image(tmp_path / "wide.png", left_dark_right_bright)
    for resample in ("bilinear", "lanczos"):
        image = load_grayscale([path], (10, 30), resample=resample, progress=False)[0]
        assert image.shape == (10, 30)
        assert image[:, :10].max() < 30 and image[:, -10:].min() > 225


def test_bad_files_are_reported_together(tmp_path):
    good = save_image(tmp_path / "good.png", np.zeros((4, 4), np.uint8))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_text("this is not a png")
    missing = [tmp_path / f"missing_{index}.png" for index in range(6)]
    with pytest.raises(ImageLoadError) as error:
        load_grayscale([good, *missing, corrupt], 4, progress=False)
    message = str(error.value)
    assert isinstance(error.value, OSError)
    assert message.startswith("7 of 8 images could not be read")
    assert all(str(path) in message for path in missing[:5])
    assert str(missing[5]) not in message and "and 2 more" in message
    assert error.value.bad_paths == [*missing, corrupt]
    assert str(pickle.loads(pickle.dumps(error.value))) == message  # e.g. from a worker process


def test_empty_paths_and_unknown_resample_raise(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        load_grayscale([], 8)
    with pytest.raises(ValueError, match="resample must be one of"):
        load_grayscale([tmp_path / "a.png"], 8, resample="cubic")


def test_as_height_width():
    assert as_height_width(64) == (64, 64)
    assert as_height_width(np.int64(32)) == (32, 32)
    assert as_height_width((256, 192)) == (256, 192)
    with pytest.raises(ValueError, match="positive"):
        as_height_width((0, 5))


# ---------------------------------------------------------------------------- bit depth, colour


def own_range(values) -> np.ndarray:
    """The rule for data of more than 8 bits without a window: min -> 0, max -> 255, rounded."""
    values = np.asarray(values, dtype=np.float64)
    return np.rint((values - values.min()) / (values.max() - values.min()) * 255).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_files_are_mapped_by_their_own_range_not_clipped(tmp_path, suffix):
    # a 12-bit radiograph stored in 16 bits: convert("L") used to turn 94 % of it to 255
    values = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 83 + 100)  # 100 ... 4001
    path = save_image(tmp_path / f"twelve_bit{suffix}", values)
    assert Image.open(path).mode == "I;16"
    with pytest.warns(BitDepthWarning, match="own min-max range"):
        image = read_grey(path)
    np.testing.assert_array_equal(image, own_range(values))
    assert image.min() == 0 and image.max() == 255 and len(np.unique(image)) == 48


def test_big_endian_16_bit_tiff(tmp_path):
    values = np.array([[0, 1000], [3000, 65535]], dtype=">u2")
    path = tmp_path / "big_endian.tif"
    Image.frombytes("I;16B", (2, 2), values.tobytes()).save(path)
    assert Image.open(path).mode == "I;16B"
    with pytest.warns(BitDepthWarning):
        np.testing.assert_array_equal(read_grey(path), own_range(values.astype(np.float64)))


def test_rgb_and_palette_become_grey_by_the_luma_rule(tmp_path):
    colours = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [200, 120, 40]]], np.uint8)
    luma = np.rint(colours @ np.array([0.299, 0.587, 0.114]))  # ITU-R 601-2
    rgb = save_image(tmp_path / "rgb.png", colours)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([colours, np.full((2, 2), 7, np.uint8)]), "RGBA").save(rgba)
    palette = tmp_path / "palette.png"
    Image.fromarray(colours).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(palette)
    for path in (rgb, rgba, palette):
        np.testing.assert_allclose(read_grey(path), luma, atol=1)


def test_8_bit_grey_passes_unchanged_without_warning(tmp_path, recwarn):
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for name in ("grey.png", "grey.bmp", "grey.tif"):
        np.testing.assert_array_equal(read_grey(save_image(tmp_path / name, values)), values)
    assert not [warning for warning in recwarn if issubclass(warning.category, BitDepthWarning)]


def test_one_warning_per_load_call_counts_the_mapped_files(tmp_path):
    eight = [save_image(tmp_path / f"eight_{i}.png", np.full((4, 4), 9, np.uint8)) for i in range(2)]
    sixteen = [save_image(tmp_path / f"sixteen_{i}.png", np.arange(16, dtype=np.uint16).reshape(4, 4) * 300)
               for i in range(3)]
    with pytest.warns(BitDepthWarning) as record:
        load_grayscale(eight + sixteen, 4, progress=False)
    assert len(record) == 1
    assert "3 of 5 images" in str(record[0].message) and "own min-max range (3)" in str(record[0].message)


# ---------------------------------------------------------------------------- too large


def test_images_over_the_pixel_limit_are_listed_with_how_to_raise_it(tmp_path, monkeypatch):
    from tests.dicom_writer import write_dicom

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    small = save_image(tmp_path / "small.png", np.zeros((8, 8), np.uint8))  # 64 pixels
    warned = save_image(tmp_path / "warned.png", np.zeros((12, 12), np.uint8))  # 144: PIL warns
    refused = save_image(tmp_path / "refused.png", np.zeros((20, 20), np.uint8))  # 400: PIL raises
    dicom = write_dicom(tmp_path / "large.dcm", np.zeros((11, 11), np.uint8))  # same limit
    with pytest.raises(ImageLoadError) as error:
        load_grayscale([small, warned, refused, dicom], 8, progress=False)
    assert error.value.bad_paths == [warned, refused, dicom]
    assert all("PIL.Image.MAX_IMAGE_PIXELS" in reason and "--max-pixels" in reason
               for reason in error.value.reasons)

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # raised: now they load
    assert load_grayscale([small, warned, refused, dicom], 8, progress=False).shape == (4, 8, 8)


def test_layouts_list_dicom_files(tmp_path):
    from anomaly_lib.layouts import list_images

    for name in ("a.png", "b.DCM", "c.dcm", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [path.name for path in list_images(tmp_path)] == ["a.png", "b.DCM", "c.dcm"]
