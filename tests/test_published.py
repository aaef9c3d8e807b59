"""anomaly_lib.published: the one place the course keeps other people's numbers, with sources."""

from pathlib import Path

from anomaly_lib.published import (
    AUTOENCODER_RSNA,
    SWSSL_CHEST_AUC,
    SWSSL_RUN_NOTES,
    SWSSL_SHORTHAND,
    markdown_table,
    swssl_chest_rows,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_published_row_carries_its_source_into_the_table():
    rows = [AUTOENCODER_RSNA, *swssl_chest_rows()]
    table = markdown_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert all(row.source and row.source in line for row, line in zip(rows, table[2:]))
    assert [row.auc for row in swssl_chest_rows()] == [f"{auc:.2f}" for auc in SWSSL_CHEST_AUC.values()]
    assert set(SWSSL_SHORTHAND) <= set(SWSSL_CHEST_AUC) and "test set" in SWSSL_RUN_NOTES


def test_the_swssl_readme_quotes_the_same_numbers_as_the_module():
    readme = (ROOT / "swssl_lib" / "README.md").read_text()
    missing = [f"{auc:.2f}" for auc in SWSSL_CHEST_AUC.values() if f"{auc:.2f}" not in readme]
    assert not missing, f"swssl_lib/README.md does not quote {missing} (anomaly_lib/published.py)"
