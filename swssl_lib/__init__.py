"""SWSSL: sliding-window self-supervised learning for anomaly detection in high-resolution images.

Dong, Konz, Gu, Mazurowski, IEEE Transactions on Medical Imaging, 2023.

model      PatchModel (alias Patch_Model): ResNet body, pooling, projector
loss       twin_loss (the authors' "paper" variant and the course notebook's)
augment    the chest and DBT augmentation recipes, inversion
sampling   the patch grid, the neighbour rule and its target similarity
data       chest and DBT datasets in patch mode (training) and full mode (scoring)
sliding    batched sliding-window feature extraction
bank       the float16, optionally disk-backed training feature bank
scoring    score_reference (the authors') and score_patch_knn (with patch maps)
evaluate   bank + test features + scores + ROC reports
train      the trainer with resumable checkpoints
outputs    figures and the JSON report
diagrams   the training step and the evaluation, drawn from a model and a window grid
predict    scores, decisions and heatmaps for new images; what training stores for it
cli, demo  ``python -m swssl_lib``
"""

from .augment import CHEST, DBT, Recipe, augmentation, invert, to_model_input
from .bank import FeatureBank, build_feature_bank
from .data import ChestDataset, DBTDataset, ImageSet, SWSSLDataset, read_images
from .evaluate import Evaluation, evaluate, extract_test_features
from .loss import twin_loss
from .model import Patch_Model, PatchModel, build_resnet, fold_batchnorm
from .sampling import (
    PatchPair,
    grid_starts,
    neighbour_similarity,
    nonblack_cells,
    sample_patch_pair,
    similarity_table,
)
from .scoring import (
    PatchScores,
    ReferenceScores,
    patch_map_to_pixels,
    score_patch_knn,
    score_reference,
)
from .sliding import WindowGrid, looped_window_features, sliding_window_features, window_view
from .train import TrainConfig, fit, load_checkpoint, train_step

__all__ = [
    "CHEST", "DBT", "ChestDataset", "DBTDataset", "Evaluation", "FeatureBank", "ImageSet",
    "PatchModel", "PatchPair", "PatchScores", "Patch_Model", "Recipe", "ReferenceScores",
    "SWSSLDataset", "TrainConfig", "WindowGrid", "augmentation", "build_feature_bank",
    "build_resnet", "evaluate", "fold_batchnorm", "extract_test_features", "fit", "grid_starts", "invert",
    "load_checkpoint", "looped_window_features", "neighbour_similarity", "nonblack_cells",
    "patch_map_to_pixels", "read_images", "sample_patch_pair", "score_patch_knn",
    "score_reference", "similarity_table", "sliding_window_features", "to_model_input",
    "train_step", "twin_loss", "window_view",
]
