"""Solutions to the exercises of 11_does_it_beat_a_baseline.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("11", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
from sklearn.metrics import roc_auc_score

labels = np.r_[np.zeros(n_normal), np.ones(n_abnormal)]
coin = [roc_auc_score(labels, np.random.default_rng(seed).random(len(labels))) for seed in range(200)]
print(f"random scores on {n_normal} + {n_abnormal} images: AUC {np.mean(coin):.3f} ± {np.std(coin):.3f} "
      f"(Hanley-McNeil at 0.5: {auc_standard_error(0.5, n_abnormal, n_normal):.3f})")
spreads = {row["method"]: row["auc_std"] for row in comparison.rows()}
print(f"SAGAN's spread between seeds (training noise, one fixed test set): ± {spreads.get('sagan', float('nan')):.3f}; "
      f"the test set's own sampling noise, a second source, is about ± {np.std(coin):.3f} at this size")

# %% Solution to exercise 2
from anomaly_lib.baselines import PCABaseline
from anomaly_lib.metrics import roc_report

from anomaly_lib.digits import make_digits_dataset

datasets = {"phantoms": (DATA, settings.image_size),
            "digits, even vs odd": (make_digits_dataset(OUT / "digits", (0, 2, 4, 6, 8), 32), 32)}
for name, (root, size) in datasets.items():
    split, test_labels = compare.load_split(root, size)
    aucs = {}
    for components in (1, 2, 4, 8, 32, 128):
        if components <= len(split.normals):
            scores = PCABaseline(components).fit(split.normals).score(split.test_images)
            aucs[components] = roc_report(test_labels, scores).auc
    print(f"{name:<20}" + "  ".join(f"{k}: {auc:.3f}" for k, auc in aucs.items()))
print("one component leaves most normal variation in the error; with many, PCA can rebuild the anomalies too")
print("(on real digits an odd digit is close to the span of the even ones; the phantoms' lesions are not)")

# %% Solution to exercise 4
K_AUTHORS = authors.num_iters // authors.log_step
for sizes in ((1000, 1000), (60, 60)):
    for rho in (0.9, 0.5):
        value = reported_auc(0.85, *sizes, [K_AUTHORS], rho=rho, repeats=10 if SMOKE else 100)[0]
        print(f"K = {K_AUTHORS}, test set {sizes[0]} + {sizes[1]}, rho {rho}: reported {value:.3f}, "
              f"true 0.85, inflation {value - 0.85:+.3f}")
print("smaller test sets and checkpoints that disagree more both make a test-set choice flatter the result")
