"""Numbers reported by others, each with its source: the one place the course types them.

The notebooks print these instead of typing them in prose, so a number and its source
travel together. None of them was measured by the kit.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    """One reported result."""

    method: str
    dataset: str
    setting: str
    auc: str  # as reported: a percentage, or a range of AUCs
    source: str


SWSSL_RUN_NOTES = ("the SWSSL authors' run script, its notes on the pediatric chest X-ray set "
                   "(one run per setting, the checkpoint chosen on the test set)")
# AUC in percent, per setting of the SWSSL authors' ablation.
SWSSL_CHEST_AUC = {
    "full model": 89.08,
    "random sampling": 89.79,
    "without neighbour term": 84.57,
    "without inverted view": 81.02,
    "with resizing augmentation": 80.04,
}
# The labels in their run notes: shorthand, quoted as theirs (the note does not define them).
SWSSL_SHORTHAND = {"random sampling": "Random sample", "without neighbour term": "Remove CD",
                   "without inverted view": "Remove flip", "with resizing augmentation": "Original resize"}
# The first step of the view pipeline in their published utils.py, which the kit's chest recipe leaves out.
SWSSL_PUBLISHED_CROP = "RandomResizedCrop(128, scale=(0.4, 1))"

AUTOENCODER_RSNA = Published(
    method="plain autoencoder, latent sizes varied", dataset="RSNA (Med-AD)",
    setting="latent size varied", auc="about 0.67–0.73",
    source="the MedIAnomaly authors' study of autoencoders (AE4AD repository), as quoted in the kit's issue 11")

# RAM of a standard (free) Colab runtime as `free -h` showed it; Google does not promise a size.
COLAB_RAM_GB = (12, 13)
COLAB_RAM_SOURCE = "`free -h` on a standard Colab runtime; not a documented guarantee"


def swssl_chest_rows() -> list[Published]:
    """The SWSSL ablation as rows."""
    return [Published("SWSSL", "pediatric chest X-ray", setting, f"{auc:.2f}", SWSSL_RUN_NOTES)
            for setting, auc in SWSSL_CHEST_AUC.items()]


def markdown_table(rows: list[Published]) -> str:
    """A Markdown table of published results with their sources."""
    lines = ["| method | setting | dataset | AUC | source |", "|---|---|---|---|---|"]
    lines += [f"| {row.method} | {row.setting} | {row.dataset} | {row.auc} | {row.source} |" for row in rows]
    return "\n".join(lines)
