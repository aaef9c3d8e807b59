import pickle

import numpy as np
import pytest
from PIL import Image

from anomaly_lib.images import ImageLoadError, as_height_width, load_grayscale


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
