"""Shared test helpers: the fixture folder and the reference numbers."""

from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def sagan_reference():
    """Numbers produced by the authors' SAGAN code at a tiny size (see tests/fixtures/README.md)."""
    return torch.load(FIXTURES / "sagan_tiny.pt", weights_only=True)
