"""Solutions to the exercises of 05_sagan_training.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("05", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
n_labeled = len(read_medad(DATA)["train_normal"])
n_abnormal = int(n_labeled * config.ar)
for holdout in (0, n_labeled // 10, n_labeled // 4, n_labeled - n_abnormal):
    pool = MedADTrainSet(DATA, config.image_size, config.ar, config.core_percent, holdout=holdout,
                         progress=False).unlabeled_paths
    share = sum(path in abnormal_files for path in pool) / len(pool)
    kept = n_labeled - holdout
    print(f"h = {holdout:>3}: {len(pool):>3} pool images (N − h = {kept}), abnormal share {share:6.1%} "
          f"= ⌊(N − h)·ar⌋ / (N − h) = {int(kept * config.ar) / kept:6.1%};  "
          f"cut off the full mix instead: ⌊N·ar⌋ / (N − h) = {min(n_abnormal / kept, 1):6.1%}")
print("Reading: the kit's pool has N − h images and keeps the share near ar at every hold-out. Cutting the "
      "full mix would raise the share with h, to an all-abnormal pool at h = N − ⌊N·ar⌋, so runs with "
      "different hold-outs would train on differently mixed unlabeled data.")

# %% Solution to exercise 2
import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

test_labels = test_set.labels.numpy()  # as many normal and abnormal images as our test set
rng = np.random.default_rng(0)
trials = 40 if SMOKE else 300
true_auc = norm.cdf(1 / np.sqrt(2))  # abnormal scores ~ N(1, 1), normal ~ N(0, 1): AUC = Φ(1/√2)

def one_checkpoint_auc():
    """The test AUC of one checkpoint of fixed quality: its scores carry random errors."""
    return roc_auc_score(test_labels, rng.normal(size=len(test_labels)) + test_labels)

print(f"every checkpoint's true AUC: {true_auc:.3f}; test set: {len(test_labels)} images")
for k in (1, 5, 20):
    best = [max(one_checkpoint_auc() for _ in range(k)) for _ in range(trials)]
    print(f"best of {k:>2} checkpoints: mean reported test AUC {np.mean(best):.3f}")
print("Reading: the more checkpoints you compare on the test set, the higher the best one looks, "
      "although none is better; the reported number is biased upwards, and only fresh data would show it.")

# %% Solution to exercise 4
for rule in ("linear", "reference"):
    tiny = SaganTrainer(SaganConfig(**{**config.to_dict(), "lr_decay": rule, "select_on": "last", "batch_size": 4,
                                       "num_iters": 6, "num_iters_decay": 4, "lr_update_step": 2}),
                        train_set, log=lambda *_: None)
    rates = []
    for _ in range(6):
        tiny.train_step()
        rates.append(tiny.g_optimizer.param_groups[0]["lr"] / tiny.config.g_lr)
    print(f"{rule:<9}: rate after each iteration, as a share of g_lr: {[round(rate, 2) for rate in rates]}")
    if rule == "linear":
        assert rates[-1] == 0 and rates[3] == rates[4] > 0, rates  # a staircase: held for lr_update_step iterations
drops = authors.num_iters_decay // authors.lr_update_step  # updates during the authors' decay stretch
print(f"the authors' settings: {drops} drops of lr / {authors.num_iters_decay:,} leave "
      f"{1 - drops / authors.num_iters_decay:.1%} of the rate at iteration {authors.num_iters:,}")
print("Reading: the reference rule only removes lr / lr_update_step in all, so with the authors' settings "
      "the rate barely moves; the kit's rule reaches 0 as intended, in steps of lr_update_step iterations.")
