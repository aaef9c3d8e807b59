"""Method-agnostic tools shared by the SAGAN and SWSSL parts of the course kit.

metrics      AUC, AP and operating points (``roc_report``)
heatmaps     anomaly maps -> colour heatmaps and overlays, on their own or one shared scale
figures      reconstruction / heatmap panels and ROC-PR figures
diagrams     boxes, arrows and labels for diagrams drawn from models (``traced_shapes``)
calibration  held-out normal images and their stored scores (``calibration.json``)
thresholds   decision thresholds from held-out scores, a test report, or a number
predictions  ``--mode predict``: its flags, inputs, CSV, overlays and summary
layouts      the Med-AD, chest and DBT folder layouts (readers and writer)
images       any image file (PNG/TIFF 8 or 16 bits, JPEG, BMP, DICOM) -> grey uint8 arrays
prepare      your own images, or a DBT download, -> the layouts (``python -m anomaly_lib prepare``)
phantoms     synthetic chest and breast datasets with lesion masks
shapes       per-layer output shapes of a model (``trace_shapes``)
checkpoints  atomic checkpoint saving, safe checkpoint loading, random-generator state
runs         one run per folder: lock, no overwriting, stale temp files
splits       repeated images and train/test overlap in a dataset's splits
cli          one-line errors and warnings for the command lines
device       device choice and smoke-test mode
amp          mixed precision by device: the autocast type, the gradient scaler (``anomaly_lib.amp``)
distributed  torchrun / DistributedDataParallel helpers (``anomaly_lib.distributed``)
backbones    ImageNet ResNets through torchvision, with a clear offline error
baselines    mean image, PCA, pretrained-feature k-NN (the autoencoder is a method: ``autoencoder_lib``)
compare      ``python -m anomaly_lib compare``: methods vs baselines over seeds
method       what a method provides, and the registry that finds them (``names``, ``get``)
engine       the training loop and resumable run state every method uses (``Run``, ``train_loop``),
             the divergence guard, and the flags every command line shares
pixel_method the whole command line of a method that scores pixels (train, test, predict, demo)
medad        the Med-AD split as every method reads it: [-1, 1] images, ids, the test set
digits       scikit-learn's handwritten digits in the Med-AD layout (real, offline)
"""

from .checkpoints import atomic_save, capture_rng_state, restore_rng_state
from .device import describe_device, pick_device, smoke_mode
from .figures import heatmap_panel, reconstruction_panel, roc_pr_figure
from .heatmaps import (
    HeatScale,
    jet_heatmap,
    normalize_map,
    overlay_heatmap,
    shared_scale,
    to_uint8_gray,
)
from .images import ImageLoadError, as_height_width, load_grayscale, read_frames, read_grey
from .layouts import (
    IMAGE_EXTENSIONS,
    list_images,
    read_chest,
    read_dbt,
    read_layout,
    read_medad,
    write_medad_json,
)
from .metrics import OperatingPoint, RocReport, operating_point, roc_report
from .phantoms import (
    DEFAULT_COUNTS,
    Phantom,
    breast_phantom,
    chest_phantom,
    draw_breast,
    draw_chest,
    make_phantom_dataset,
)
from .shapes import ShapeRow, ShapeTrace, trace_shapes

__all__ = [
    "DEFAULT_COUNTS",
    "HeatScale",
    "IMAGE_EXTENSIONS",
    "ImageLoadError",
    "OperatingPoint",
    "Phantom",
    "RocReport",
    "ShapeRow",
    "ShapeTrace",
    "as_height_width",
    "atomic_save",
    "breast_phantom",
    "capture_rng_state",
    "chest_phantom",
    "describe_device",
    "draw_breast",
    "draw_chest",
    "heatmap_panel",
    "jet_heatmap",
    "list_images",
    "load_grayscale",
    "make_phantom_dataset",
    "normalize_map",
    "operating_point",
    "overlay_heatmap",
    "pick_device",
    "read_chest",
    "read_dbt",
    "read_frames",
    "read_grey",
    "read_layout",
    "read_medad",
    "reconstruction_panel",
    "restore_rng_state",
    "roc_pr_figure",
    "roc_report",
    "shared_scale",
    "smoke_mode",
    "to_uint8_gray",
    "trace_shapes",
    "write_medad_json",
]
