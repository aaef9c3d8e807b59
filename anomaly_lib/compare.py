"""`python -m anomaly_lib compare`: methods against baselines, over seeds, on one split.

    python -m anomaly_lib compare --quick                    # phantoms, a few minutes on a CPU
    python -m anomaly_lib compare --medad data/RSNA --methods sagan,mean-image,pca,autoencoder,knn \\
        --seeds 3 --images 320000 --out results/rsna   # matched: 320,000 normal images each

What keeps the numbers honest:
  * every method sees the same split: it fits on the labeled normals `train/0` (SAGAN also
    on its unlabeled pool and synthetic anomalies, as the method prescribes) and scores the
    test split, all read and resized alike (`MedADTrainSet`, `MedADTestSet`);
  * model selection never uses test labels: a trained method keeps its last weights, and a
    method receives the test *images* only; the labels stay with `evaluate`;
  * each seed re-runs the training on the same split, so the spread is the training's own;
  * scores are averaged per id (the file stem before `__`) and evaluated with `roc_report`.

The output is a table of AUC and AP as mean ± standard deviation over seeds (Markdown,
CSV, JSON) and one figure: AUC per seed for every method, and the ROC curves of each
method's median seed. The methods are reached through their registry (`anomaly_lib.method`),
never imported.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from . import method as methods
from .baselines import FeatureKNNBaseline, MeanImageBaseline, PCABaseline
from .calibration import write_json
from .device import pick_device
from .files import regular_file, writing
from .images import load_grayscale
from .layouts import read_medad
from .medad import (
    DEMO_COUNTS,
    DEMO_LESION_SCALE,
    MedADTestSet,
    average_by_id,
    check_nonempty,
    to_model_range,
)
from .metrics import (
    PairedDifference,
    RocReport,
    aupro,
    paired_auc_difference,
    pixel_auroc,
    roc_report,
)
from .runs import LOCK_NAME, claim_run_folder

# The registered methods (`anomaly_lib.method`) that a comparison can train, with their variants.
METHODS = {variant: method for variant, method in methods.all_variants().items() if method.compare}
# What every claim is read against: the untrained baselines here and the registered methods that
# call themselves baselines (the plain autoencoder).
BASELINE_METHODS = ("mean-image", "pca", *(name for name, method in METHODS.items() if method.baseline), "knn")
METHOD_NAMES = (*(name for name in METHODS if name not in BASELINE_METHODS), *BASELINE_METHODS)
DEFAULT_METHODS = ("mean-image", "pca", "autoencoder", "knn", "sagan")
QUICK_METHODS = ("mean-image", "pca", "autoencoder", "knn", "sagan", "sagan-l1-only", "swssl")

# Training budgets, in each method's unit (`Method.budget`: SAGAN and the autoencoder in
# iterations, SWSSL in epochs). A variant uses its method's budget unless it has its own.
FAMILIES = {method.name: method for method in METHODS.values()}
DEFAULT_BUDGETS = {name: method.budget[0] for name, method in FAMILIES.items()}
# The quick preset's matched budget: every trained method sees this many normal training images.
QUICK_IMAGES = 4800
# The side at which --quick draws its phantoms: each method reads them at its own size (most at
# `image_size`, SWSSL at twice that, so that its windows are small parts of the image).
QUICK_PHANTOM_SIZE = 128


@dataclass
class CompareSettings:
    """Everything a comparison run depends on (saved with its results)."""

    methods: tuple = DEFAULT_METHODS
    seeds: int = 3
    image_size: int = 64
    budgets: dict = field(default_factory=dict)  # method or "sagan" → iterations (swssl: epochs)
    images: int = 0  # > 0: every trained method without a budget above sees this many normal images
    # Changes to a method's settings (`Method.setting_types`), one field per method that has some:
    sagan: dict = field(default_factory=dict)  # SaganConfig changes: sizes, lr, batch, schedule
    swssl: dict = field(default_factory=dict)  # SWSSL changes: image_size, patch_size, step_size, backbone, …
    autoencoder: dict = field(default_factory=dict)  # AutoencoderConfig changes: latent_size, width, …
    pca_components: int = 8
    knn_k: int = 1
    pretrained: bool = True  # ImageNet weights for knn and swssl (downloaded once)
    chest_root: str = None  # SWSSL on a chest-layout folder instead of the Med-AD split
    device: str = "auto"
    progress: bool = False

    def __post_init__(self):
        self.methods = tuple(self.methods)
        unknown = [name for name in self.methods if name not in METHOD_NAMES]
        if unknown or not self.methods:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHOD_NAMES)}")
        bad_budgets = sorted(set(self.budgets) - {*METHOD_NAMES})
        if bad_budgets:
            raise ValueError(f"--budget names {bad_budgets} are not methods; choose from {', '.join(METHOD_NAMES)}")
        for name, method in FAMILIES.items():  # a method's changes: the settings it lets a comparison set
            unknown = sorted(set(getattr(self, name, None) or {}) - set(method.setting_types))
            if unknown:
                raise ValueError(f"{unknown} cannot be changed in a comparison: {name}'s settings are "
                                 f"{', '.join(method.setting_types)}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be ≥ 1, got {self.seeds}")
        if self.images < 0:
            raise ValueError(f"--images must be ≥ 0 (0: each method's own budget), got {self.images}")

    def budget(self, method: str) -> int:
        family = METHODS[method].name if method in METHODS else method
        return int(self.budgets.get(method, self.budgets.get(family, DEFAULT_BUDGETS.get(family, 0))))

    def matched(self, n_train_normal: int) -> CompareSettings:
        """These settings with `images` turned into budgets: each trained method without a budget of
        its own gets the fewest units (iterations, epochs) that show it `images` normal images."""
        if not self.images:
            return self
        budgets = dict(self.budgets)
        for method in self.methods:
            if method not in METHODS or method in self.budgets or METHODS[method].name in self.budgets:
                continue
            per_unit = METHODS[method].images_per_unit(self, method, n_train_normal)
            if per_unit is None:
                raise ValueError(f"--images cannot set {method}'s budget here (its training images are not "
                                 f"the split's labeled normals); give --budget {method}=N")
            budgets[method] = -(-self.images // per_unit)  # ceil: at least `images`
        return replace(self, budgets=budgets)


SETTINGS_OF_METHODS = ("sagan", "swssl", "autoencoder")  # the CompareSettings fields above, each a method's name


def quick_settings(**changes) -> CompareSettings:
    """The `--quick` preset: every method small enough for a CPU, random weights (offline), and
    matched budgets: each trained method sees `QUICK_IMAGES` normal training images."""
    own = {name: dict(method.compare_quick) for name, method in FAMILIES.items() if name in SETTINGS_OF_METHODS}
    values = dict(methods=QUICK_METHODS, seeds=3, images=QUICK_IMAGES, **own, pretrained=False)
    return CompareSettings(**{**values, **changes})


# ---------------------------------------------------------------------------- the data, once


@dataclass
class SplitData:
    """One Med-AD split as every method sees it: training data and test *images*, no test labels."""

    root: Path
    normal_paths: list  # the labeled normals train/0
    unlabeled: int  # images listed under train/unlabeled (SAGAN's pool)
    normals: torch.Tensor  # (N, 1, H, W) in [-1, 1]
    test_images: torch.Tensor  # (M, 1, H, W) in [-1, 1]
    test_paths: list
    test_ids: list
    resized: dict = field(default_factory=dict, repr=False)  # images read again at another size, by key


def load_split(root, image_size: int = 64, progress: bool = False) -> tuple[SplitData, np.ndarray]:
    """The split for the methods, and the test labels (M,) kept apart for `evaluate`."""
    splits = read_medad(root)
    check_nonempty(splits, ["train_normal"], root)
    normals = torch.from_numpy(load_grayscale(splits["train_normal"], image_size, desc="labeled normals",
                                              progress=progress))  # (N, H, W) uint8
    test_set = MedADTestSet(root, image_size, progress=progress)
    unlabeled = len(splits["unlabeled_normal"]) + len(splits["unlabeled_abnormal"])
    data = SplitData(Path(root), splits["train_normal"], unlabeled, to_model_range(normals).unsqueeze(1),
                     to_model_range(test_set.images).unsqueeze(1), list(test_set.paths), list(test_set.ids))
    return data, test_set.labels.numpy()


def load_masks(root, test_paths, image_size: int) -> np.ndarray | None:
    """The test images' lesion masks (M, H, W) bool from ROOT/masks/NAME (phantoms write them; an
    image without one has no lesion), or None when the split has no masks folder. Like the labels,
    they never reach a method: only `pixel_metrics` reads them."""
    folder = Path(root) / "masks"
    if not folder.is_dir():
        return None
    masks = np.zeros((len(test_paths), image_size, image_size), bool)
    for i, path in enumerate(test_paths):
        mask_path = folder / Path(path).name
        if mask_path.is_file():  # resized as the images were; more than half covered counts
            masks[i] = load_grayscale([mask_path], image_size, progress=False)[0] > 127
    return masks


def pixel_metrics(maps, masks) -> dict:
    """Pixel AUROC and AUPRO of a method's maps against the lesion masks; {} without either."""
    if maps is None or masks is None or not masks.any():
        return {}
    maps = np.asarray(maps, dtype=np.float64)
    if maps.shape != masks.shape:
        raise ValueError(f"the maps have shape {maps.shape}, the lesion masks {masks.shape}")
    return {"pixel_auroc": pixel_auroc(maps, masks), "aupro": aupro(maps, masks)}


def split_summary(data: SplitData, labels: np.ndarray) -> dict:
    return {"root": str(data.root.resolve()), "train_normal": len(data.normals),
            "unlabeled": data.unlabeled,
            "test_normal": int((labels == 0).sum()), "test_abnormal": int((labels == 1).sum()),
            "image_size": list(data.normals.shape[-2:])}


@dataclass
class WithMaps:
    """A method's test scores (M,) with their anomaly maps (M, H, W): where the split has lesion masks,
    the comparison also reports how well the maps find the lesions (pixel AUROC, AUPRO)."""

    scores: np.ndarray
    maps: np.ndarray


@dataclass
class OwnTest:
    """Scores on a method's own test split (SWSSL on a chest folder), with that split's labels."""

    scores: np.ndarray
    labels: np.ndarray
    ids: list


# ---------------------------------------------------------------------------- the methods


def run_baseline(method: str, data: SplitData, settings: CompareSettings, seed: int, run_dir: Path, device):
    torch.manual_seed(seed)  # random-weight k-NN's weights
    if method == "mean-image":
        baseline = MeanImageBaseline()
    elif method == "pca":
        baseline = PCABaseline(settings.pca_components)
    else:
        baseline = FeatureKNNBaseline(k=settings.knn_k, pretrained=settings.pretrained, device=device)
    baseline.fit(data.normals)
    return WithMaps(baseline.score(data.test_images), baseline.maps(data.test_images))


def runner(method: str) -> Callable:
    """A registered method's comparison run (`Method.compare`), or a baseline's."""
    return METHODS[method].compare if method in METHODS else run_baseline


def describe(method: str, settings: CompareSettings) -> dict:
    """What a method trains on and with what budget, for the table."""
    if method in METHODS:
        trained_on = METHODS[method].trains_on[method]
        trained_on = trained_on(settings) if callable(trained_on) else trained_on
        return {"trained_on": trained_on, "budget": f"{settings.budget(method)} {METHODS[method].budget[1]}"}
    weights = {"knn": " (ImageNet)" if settings.pretrained else " (random weights)"}.get(method, "")
    extra = {"pca": f", {settings.pca_components} components"}
    return {"trained_on": "labeled normals" + weights + extra.get(method, ""), "budget": "none"}


# ---------------------------------------------------------------------------- running and reporting


@dataclass
class RunResult:
    method: str
    seed: int
    auc: float
    ap: float
    seconds: float
    scores: np.ndarray  # one per test id
    labels: np.ndarray
    pixel: dict = field(default_factory=dict)  # pixel_auroc and aupro, when the maps met lesion masks


def evaluate(test_ids: list, labels: np.ndarray, scores) -> tuple[np.ndarray, np.ndarray, RocReport]:
    """Per-id scores and labels, and their report: the only place the test labels are used."""
    if isinstance(scores, OwnTest):
        test_ids, scores, labels = scores.ids, scores.scores, scores.labels
    _, per_id, per_id_labels = average_by_id(test_ids, scores, np.asarray(labels).tolist())
    return per_id, per_id_labels, roc_report(per_id_labels, per_id)


def mean_std(values, digits: int = 3) -> str:
    """"mean ± std" (sample std, ddof = 1) over seeds; just the mean for one seed."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


PIXEL_METRICS = ("pixel_auroc", "aupro")  # how well a method's maps find the lesions (`metrics`)
PRETRAINED_METHODS = ("knn", "swssl")  # described as using ImageNet weights


def row_label(method: str, settings: CompareSettings) -> str:
    """The method's name, and "(random weights)" when a pretrained method ran without them."""
    return f"{method} (random weights)" if method in PRETRAINED_METHODS and not settings.pretrained else method


def images_seen(method: str, settings: CompareSettings, n_train_normal: int) -> int | None:
    """Normal training images a method's training passes through: its budget times the images of
    one unit (``Method.images_per_unit``). None: it does not train, or it cannot be known."""
    if method not in METHODS or METHODS[method].images_per_unit is None:
        return None
    per_unit = METHODS[method].images_per_unit(settings, method, n_train_normal)
    return None if per_unit is None else settings.budget(method) * per_unit


def format_difference(paired: PairedDifference) -> str:
    return f"{paired.difference:+.3f} [{paired.low:+.3f}, {paired.high:+.3f}]"


@dataclass
class Comparison:
    settings: CompareSettings
    data: dict  # the split's summary
    runs: list  # RunResult, method by method, seed by seed
    intervals: dict = field(default_factory=dict, repr=False)  # (method, reference) → PairedDifference, once

    def runs_of(self, method: str) -> list:
        return [run for run in self.runs if run.method == method]

    def median_run(self, method: str) -> RunResult:
        """The seed whose AUC is the median (the lower one of the middle two for an even count)."""
        runs = sorted(self.runs_of(method), key=lambda run: run.auc)
        return runs[(len(runs) - 1) // 2]

    def best_baseline(self) -> str | None:
        """The baseline with the highest mean AUC (ties: the first in the table), or None."""
        baselines = [method for method in dict.fromkeys(run.method for run in self.runs) if method in BASELINE_METHODS]
        if not baselines:
            return None
        return max(baselines, key=lambda method: np.mean([run.auc for run in self.runs_of(method)]))

    def paired(self, method: str, reference: str) -> PairedDifference | None:
        """AUC(method) − AUC(reference) over the same test images, seeds resampled (None: other test sets)."""
        if (method, reference) not in self.intervals:
            runs, reference_runs = self.runs_of(method), self.runs_of(reference)
            labels = reference_runs[0].labels
            if any(len(run.labels) != len(labels) or not np.array_equal(run.labels, labels) for run in runs):
                self.intervals[method, reference] = None  # e.g. SWSSL on its own chest split: nothing to pair
            else:
                self.intervals[method, reference] = paired_auc_difference(
                    labels, np.stack([run.scores for run in runs]), np.stack([run.scores for run in reference_runs]))
        return self.intervals[method, reference]

    def rows(self) -> list:
        rows = []
        reference = self.best_baseline()
        for method in dict.fromkeys(run.method for run in self.runs):
            runs = self.runs_of(method)
            aucs, aps = [r.auc for r in runs], [r.ap for r in runs]
            paired = None if reference in (None, method) else self.paired(method, reference)
            seen = images_seen(method, self.settings, self.data["train_normal"])
            rows.append({
                "method": method, "label": row_label(method, self.settings), "auc_mean": float(np.mean(aucs)),
                "auc_std": float(np.std(aucs, ddof=1)) if len(runs) > 1 else float("nan"),
                "ap_mean": float(np.mean(aps)), "ap_std": float(np.std(aps, ddof=1)) if len(runs) > 1 else float("nan"),
                "auc": mean_std(aucs), "ap": mean_std(aps), "seeds": len(runs),
                "vs_baseline": ("reference" if method == reference else format_difference(paired) if paired
                                else "not paired"),
                **({"difference": paired.difference, "difference_low": paired.low, "difference_high": paired.high}
                   if paired else {}),
                "images_seen": seen if seen is not None else "",
                **{name: mean_std([r.pixel[name] for r in runs]) for name in PIXEL_METRICS
                   if all(name in r.pixel for r in runs)},
                "seconds": float(np.mean([r.seconds for r in runs])), **describe(method, self.settings),
            })
        return rows

    def conclusion(self) -> str:
        """Sentences generated from the paired intervals against the best baseline."""
        reference = self.best_baseline()
        if reference is None:
            return "No baseline ran, so no method can be judged against one."
        name = row_label(reference, self.settings)
        verdicts = {"beats": [], "is below": [], "tied": []}
        level = None
        for method in dict.fromkeys(run.method for run in self.runs):
            paired = None if method == reference else self.paired(method, reference)
            if paired is None:
                continue
            level = paired.level
            verdict = "beats" if paired.low > 0 else "is below" if paired.high < 0 else "tied"
            verdicts[verdict].append((row_label(method, self.settings), paired))
        auc = mean_std([run.auc for run in self.runs_of(reference)])
        if level is None:
            return f"The best baseline is {name} (AUC {auc}); no other method was scored on the same test images."
        sentences = [f"The best baseline is {name} (AUC {auc})."]
        for verdict in ("beats", "is below"):
            sentences += [f"{method} {verdict} {name} by {abs(paired.difference):.3f} "
                          f"[{paired.low:+.3f}, {paired.high:+.3f}]." for method, paired in verdicts[verdict]]
        if not verdicts["beats"] and not verdicts["is below"]:
            sentences.append(f"No method is distinguishable from {name}.")
        else:
            if verdicts["tied"]:
                tied = ", ".join(method for method, _ in verdicts["tied"])
                sentences.append(f"Not distinguishable from {name}: {tied}.")
            if not verdicts["beats"]:
                sentences.append(f"No method beats {name}.")
        sentences.append(f"(AUC differences, paired bootstrap {level:.0%} intervals over the same test images, "
                         "seeds resampled.)")
        return " ".join(sentences)

    def budgets_note(self) -> str:
        """The training budgets as images seen, and whether the trained methods' budgets match."""
        seen = {row["label"]: row["images_seen"] for row in self.rows() if row["images_seen"] != ""}
        if not seen:
            return "No method here trains, so no budget applies."
        listed = ", ".join(f"{name} {count:,}" for name, count in seen.items())
        if len(seen) == 1:
            return f"Normal training images seen per run: {listed} (the only method here that trains)."
        matched = "match" if len(set(seen.values())) == 1 else "do not match"
        return f"Normal training images seen per run: {listed}; these budgets {matched}."

    def markdown(self) -> str:
        reference = self.best_baseline() or "best baseline"
        rows = self.rows()
        pixel = [name for name in PIXEL_METRICS if any(name in row for row in rows)]  # only where maps met masks
        titles = {"pixel_auroc": "pixel AUROC", "aupro": "AUPRO (FPR ≤ 0.3)"}
        lines = [f"| method | AUC | AP | ΔAUC vs {reference} [95 % CI] | "
                 + "".join(f"{titles[name]} | " for name in pixel) + "seeds | s/run | budget | images seen | trained on |",
                 "|---|---|---|---|" + "---|" * len(pixel) + "---|---|---|---|---|"]
        for row in rows:
            seen = f"{row['images_seen']:,}" if row["images_seen"] != "" else "—"
            lines.append(f"| {row['label']} | {row['auc']} | {row['ap']} | {row['vs_baseline']} | "
                         + "".join(f"{row.get(name, '—')} | " for name in pixel)
                         + f"{row['seeds']} | {row['seconds']:.1f} | {row['budget']} | {seen} | {row['trained_on']} |")
        data = self.data
        lines.append("")
        lines.append(f"Test split: {data['test_normal']} normal and {data['test_abnormal']} abnormal images; "
                     f"{data['train_normal']} labeled normals. ± is the standard deviation over seeds (ddof 1); "
                     "a method without randomness repeats exactly. No run saw a test label before scoring. "
                     + self.budgets_note())
        lines.append("")
        lines.append(self.conclusion())
        return "\n".join(lines)

    def figure(self) -> Figure:
        """AUC per seed and mean ± std per method (left); ROC of each method's median seed (right)."""
        rows = self.rows()
        figure = Figure(figsize=(13, 5))
        auc_ax, roc_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        colors = [f"C{i % 10}" for i in range(len(rows))]
        for x, (row, color) in enumerate(zip(rows, colors)):
            aucs = [run.auc for run in self.runs_of(row["method"])]
            offsets = np.linspace(-0.15, 0.15, len(aucs)) if len(aucs) > 1 else [0.0]
            auc_ax.scatter(x - 0.1 + np.asarray(offsets), aucs, s=24, color=color, alpha=0.75, zorder=3)
            spread = 0.0 if np.isnan(row["auc_std"]) else row["auc_std"]
            auc_ax.errorbar(x + 0.2, row["auc_mean"], yerr=spread, fmt="D", color=color, capsize=4, zorder=3)
        auc_ax.axhline(0.5, color="gray", ls="--", lw=1, label="chance")
        auc_ax.set_xticks(range(len(rows)), [row["method"] for row in rows], rotation=30, ha="right")
        auc_ax.set_ylabel("test AUC")
        auc_ax.set_title(f"AUC: one dot per seed, diamond and bar = mean ± std ({self.settings.seeds} seeds)")
        auc_ax.grid(alpha=0.3, axis="y")
        auc_ax.legend(loc="lower right", fontsize=8)

        for row, color in zip(rows, colors):
            run = self.median_run(row["method"])
            fpr, tpr, _ = roc_curve(run.labels, run.scores)
            roc_ax.plot(fpr, tpr, color=color, lw=1.8, label=f"{run.method} (seed {run.seed}, AUC {run.auc:.3f})")
        roc_ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1)
        roc_ax.set_xlabel("false positive rate (1 − specificity)")
        roc_ax.set_ylabel("true positive rate (sensitivity)")
        roc_ax.set_title("ROC curves of each method's median seed")
        roc_ax.set_aspect("equal")
        roc_ax.grid(alpha=0.3)
        roc_ax.legend(loc="lower right", fontsize=7)
        figure.set_layout_engine("constrained")
        return figure

    def as_dict(self) -> dict:
        settings = {**asdict(self.settings), "methods": list(self.settings.methods)}
        return {"settings": settings, "data": self.data, "table": self.rows(), "conclusion": self.conclusion(),
                "runs": [{**asdict(run), "scores": run.scores.tolist(), "labels": run.labels.tolist()}
                         for run in self.runs]}

    def save(self, out_dir) -> dict:
        """Write comparison.md, .csv, .json and .png into `out_dir`; returns their paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {kind: out_dir / f"comparison.{kind}" for kind in ("md", "csv", "json", "png")}
        with writing(paths["md"]):
            paths["md"].write_text(self.markdown() + "\n")
        columns = ["method", "label", "auc_mean", "auc_std", "ap_mean", "ap_std", "difference", "difference_low",
                   "difference_high", *PIXEL_METRICS, "seeds", "seconds", "budget", "images_seen", "trained_on"]
        with writing(paths["csv"]), open(paths["csv"], "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows())
        with writing(paths["json"]):
            paths["json"].write_text(json.dumps(self.as_dict(), indent=1))
        with writing(paths["png"]):
            self.figure().savefig(paths["png"], dpi=120, bbox_inches="tight")
        return paths


MARKER = "compare_settings.json"  # marks an output folder as a comparison's, with its settings
FREE_TO_CHANGE = ("methods", "seeds", "progress", "device")  # a re-run may add methods or seeds


def settings_record(settings: CompareSettings) -> dict:
    return json.loads(json.dumps({**asdict(settings), "methods": list(settings.methods)}))


def prepare_out_dir(out_dir, settings: CompareSettings, data: dict = None) -> Path:
    """Create `out_dir`, or reuse one that a comparison with the same settings and data made.

    A non-empty folder without the marker is refused, and so is a comparison made with other
    settings or on another split (its finished runs would mix with the new ones). Adding
    methods or seeds is fine. `data` is the split's summary, once it is known.
    """
    out_dir = Path(out_dir)
    marker = out_dir / MARKER
    record = {"settings": settings_record(settings), "data": data}
    if out_dir.is_dir() and any(path.name != LOCK_NAME for path in out_dir.iterdir()):
        if not marker.is_file():
            raise FileExistsError(f"{out_dir} is not empty and was not made by a comparison (no {MARKER}); "
                                  "choose a new or empty folder")
        before = _read_json(marker, "is the settings file of an earlier comparison; delete that folder to start "
                                    "again, or choose a new --out")
        changed = sorted(key for key, value in record["settings"].items()
                         if key not in FREE_TO_CHANGE and before["settings"].get(key) != value)
        if data is not None and before.get("data") not in (None, json.loads(json.dumps(data))):
            changed.append("data (another Med-AD folder or split)")
        if changed:
            raise FileExistsError(f"{out_dir} holds a comparison made with other {', '.join(changed)}; choose a "
                                  "new --out, or delete that folder to start again")
        record["data"] = data if data is not None else before.get("data")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(marker, record)
    return out_dir


def _read_json(path: Path, what_to_do: str) -> dict:
    """A JSON object from ``path``; anything else is one line naming the file and ``what_to_do``."""
    try:
        saved = json.loads(regular_file(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read ({error}); it {what_to_do}") from None
    if not isinstance(saved, dict):
        raise ValueError(f"{path} holds a JSON {type(saved).__name__}, not an object; it {what_to_do}")
    return saved


def load_finished_run(run_dir: Path):
    """`(scores, seconds, pixel metrics)` of a run finished earlier in this folder, or None."""
    path = run_dir / "scores.json"
    if not path.is_file():
        return None
    what_to_do = f"holds the scores of a finished run: delete it to run that seed ({run_dir.name}) again"
    saved = _read_json(path, what_to_do)
    try:
        scores = np.asarray(saved["scores"], dtype=np.float64)
        if "labels" in saved:
            scores = OwnTest(scores, np.asarray(saved["labels"]), saved["ids"])
        return scores, float(saved["seconds"]), dict(saved.get("pixel", {}))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} lacks what a finished run stores ({type(error).__name__}: {error}); it "
                         f"{what_to_do}") from None


def save_finished_run(run_dir: Path, scores, seconds: float, pixel: dict = None) -> None:
    saved = {"seconds": seconds, "pixel": pixel or {}}
    if isinstance(scores, OwnTest):
        saved.update(scores=scores.scores.tolist(), labels=scores.labels.tolist(), ids=scores.ids)
    else:
        saved["scores"] = np.asarray(scores).tolist()
    write_json(run_dir / "scores.json", saved)  # atomic: a run counts as finished only when complete


def run_comparison(medad_root, settings: CompareSettings, out_dir, log=print) -> Comparison:
    """Fit and score every method for every seed on one split; save and return the comparison.

    Runs finished earlier in `out_dir` (same settings) are read back, not repeated, and an
    interrupted SAGAN run continues from its checkpoint: on Colab, re-run the same command.
    """
    device = pick_device(settings.device)
    data, labels = load_split(medad_root, settings.image_size, settings.progress)
    summary = split_summary(data, labels)
    out_dir = prepare_out_dir(out_dir, settings, summary)
    settings = settings.matched(summary["train_normal"])  # --images → each trained method's budget
    log(f"split: {summary['train_normal']} labeled normals, {summary['unlabeled']} unlabeled, "
        f"{summary['test_normal']} + {summary['test_abnormal']} test images at {settings.image_size} px; device {device}")
    masks = load_masks(medad_root, data.test_paths, settings.image_size)
    runs = []
    for method in settings.methods:
        for seed in range(settings.seeds):
            run_dir = out_dir / "runs" / method / f"seed{seed}"
            finished = load_finished_run(run_dir)
            if finished is None:
                start = time.perf_counter()
                scores = runner(method)(method, data, settings, seed, run_dir, device)
                seconds = time.perf_counter() - start
                pixel = pixel_metrics(scores.maps, masks) if isinstance(scores, WithMaps) else {}
                scores = scores.scores if isinstance(scores, WithMaps) else scores
                save_finished_run(run_dir, scores, seconds, pixel)
            else:
                scores, seconds, pixel = finished
            per_id, per_id_labels, report = evaluate(data.test_ids, labels, scores)
            runs.append(RunResult(method, seed, report.auc, report.ap, seconds, per_id, per_id_labels, pixel))
            where = "".join(f"  {name} {value:.3f}" for name, value in pixel.items())
            log(f"  {method:<19} seed {seed}: AUC {report.auc:.3f}  AP {report.ap:.3f}{where}  ({seconds:.1f} s"
                + (", finished earlier)" if finished else ")"))
    comparison = Comparison(settings, summary, runs)
    comparison.save(out_dir)
    return comparison


# ---------------------------------------------------------------------------- command line


def parse_assignments(items, types: dict, flag: str) -> dict:
    """["g_conv_dim=16", "amp=false"] → {"g_conv_dim": 16, "amp": False}, typed by `types`."""
    values = {}
    for item in items or []:
        key, _, text = item.partition("=")
        if not key or not text:
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        if key not in types:
            raise ValueError(f"{flag}: unknown key {key!r}; known: {', '.join(types)}")
        kind = types[key]
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"{flag} {key} takes true or false, got {text!r}")
            values[key] = text.lower() in ("true", "1")
        else:
            try:
                values[key] = kind(text) if kind in (int, float) else text
            except ValueError:
                raise ValueError(f"{flag} {key} takes a number ({kind.__name__}), got {text!r}") from None
    return values


def settings_from_args(args) -> CompareSettings:
    """The settings that the `compare` flags describe; `--quick` starts from `quick_settings()`."""
    base = quick_settings() if args.quick else CompareSettings()
    changes = {}
    if args.methods:
        changes["methods"] = tuple(name.strip() for name in args.methods.split(",") if name.strip())
    budgets = parse_assignments(args.budget, dict.fromkeys(METHOD_NAMES, int), "--budget")
    changes["budgets"] = {**base.budgets, **budgets}
    for name in SETTINGS_OF_METHODS:  # --sagan-set, --swssl-set, --autoencoder-set
        types = FAMILIES[name].setting_types
        given = parse_assignments(getattr(args, f"{name}_set"), types, f"--{name}-set")
        changes[name] = {**getattr(base, name), **given}
    for name in ("seeds", "images", "image_size", "pca_components", "knn_k", "pretrained", "device"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    changes["chest_root"] = args.chest
    changes["progress"] = args.progress
    return CompareSettings(**{**asdict(base), **changes})


def run_from_args(args, log=print) -> Comparison:
    """`python -m anomaly_lib compare`: make phantoms if asked, run, print the table and the files."""
    settings = settings_from_args(args)
    out_dir = Path(args.out)
    created = not out_dir.exists()
    try:
        with claim_run_folder(out_dir, (), log=log):  # writable, and no second comparison writing there
            return _run_claimed(args, settings, log)
    finally:
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # made only to hold the lock of a comparison that failed at once


def _run_claimed(args, settings: CompareSettings, log) -> Comparison:
    from .phantoms import make_phantom_dataset

    out_dir = prepare_out_dir(args.out, settings)
    root = args.medad
    if root is None:
        if not args.quick:
            raise ValueError("give --medad DIR (a Med-AD folder), or --quick to run on phantoms")
        difficulty = getattr(args, "difficulty", "easy")
        size = max(QUICK_PHANTOM_SIZE, settings.image_size)
        root = make_phantom_dataset(out_dir / "phantoms", "medad", size, DEMO_COUNTS, seed=0,
                                    lesion_scale=DEMO_LESION_SCALE, difficulty=difficulty)
        log(f"phantoms: {root} ({difficulty}, drawn at {size} px; the SAGAN demo's counts, lesion_scale "
            f"{DEMO_LESION_SCALE})")
    comparison = run_comparison(root, settings, out_dir, log=log)
    log("")
    log(comparison.markdown())
    log(f"\nsaved: {', '.join(str(out_dir / f'comparison.{kind}') for kind in ('md', 'csv', 'json', 'png'))}")
    return comparison
