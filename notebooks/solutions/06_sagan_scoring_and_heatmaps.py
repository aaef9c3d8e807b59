"""Solutions to the exercises of 06_sagan_scoring_and_heatmaps.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("06", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
from anomaly_lib.metrics import roc_report

class CopyInput(torch.nn.Module):
    """A perfect reconstructor: windows in, the same windows out."""

    def forward(self, windows, bs=None):
        return windows

copy_scores = score_images(CopyInput(), images.to(device)).cpu().numpy()
copy_report = roc_report(labels, copy_scores)
print(f"scores from {copy_scores.min():.3f} to {copy_scores.max():.3f}; AUC {copy_report.auc:.3f}, "
      f"AP {copy_report.ap:.3f} (= the share of abnormal images, {labels.mean():.3f})")
print("Reading: a perfect reconstruction scores 0 on every image, so all images tie and the AUC is 0.5: "
      "a reconstructor is only useful if it fails on lesions. The score reaches its maximum, 1, only "
      "when every pixel is ±1 and the reconstruction is its exact negative.")

# %% Solution to exercise 2
from anomaly_lib.metrics import roc_report

rng = np.random.default_rng(0)
same, held_out = [], []
for _ in range(50):
    half_a, half_b = [], []
    for label in (0, 1):  # split each class in two, so both halves keep the abnormal share
        members = rng.permutation(np.flatnonzero(result.labels == label))
        half_a += list(members[: len(members) // 2])
        half_b += list(members[len(members) // 2:])
    labels_a, scores_a = result.labels[half_a], result.scores[half_a]
    labels_b, scores_b = result.labels[half_b], result.scores[half_b]
    on_b = roc_report(labels_b, scores_b).authors_cutoff  # chosen on B, measured on B
    from_a = operating_point(labels_b, scores_b, roc_report(labels_a, scores_a).authors_cutoff.threshold)
    same.append((on_b.sensitivity, on_b.specificity))
    held_out.append((from_a.sensitivity, from_a.specificity))
for name, points in [("cutoff chosen on B, measured on B", same), ("cutoff chosen on A, measured on B", held_out)]:
    sensitivity, specificity = np.mean(points, axis=0)
    imbalance = np.mean([abs(sens - spec) for sens, spec in points])
    print(f"{name}: sensitivity {sensitivity:.3f}, specificity {specificity:.3f}, "
          f"|sensitivity − specificity| {imbalance:.3f}")
print("Reading: on the images it was chosen on, the cutoff is balanced by construction and fitted to their "
      "noise; on the other half it loses that balance, and its numbers are the ones to report.")

# %% Solution to exercise 3
from anomaly_lib.metrics import roc_report

_, all_maps = reconstruct(G, images.to(device))  # (N, 1, 64, 64)
flat = all_maps.flatten(start_dim=1).cpu()  # (N, 4096)
top_share = max(1, flat.shape[1] // 100)  # the top 1 % of the pixels
poolings = {
    "mean (the authors')": flat.mean(dim=1),
    "top 1 % mean": flat.topk(top_share, dim=1).values.mean(dim=1),
    "maximum": flat.max(dim=1).values,
}
aucs = {name: roc_report(labels, values.numpy()).auc for name, values in poolings.items()}
for name, auc in aucs.items():
    print(f"{name:<20} AUC {auc:.3f}")
print(f"Reading: here the best pooling is '{max(aucs, key=aucs.get)}'. The mean dilutes a small lesion among "
      "thousands of normal pixels; the maximum reacts to a single pixel, noise included; the top-k mean sits "
      "between. Choose on validation data, not on the test set.")
