"""Shared fixtures: a small clean synthetic city and helpers to break it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from liushuang.synth.generate import SynthConfig, generate, write_dataset

SMALL = SynthConfig(entities=600, years=2, seed=11)


@pytest.fixture(scope="session")
def clean_dataset():
    return generate(SMALL)


@pytest.fixture(scope="session")
def clean_dir(tmp_path_factory, clean_dataset) -> Path:
    out = tmp_path_factory.mktemp("clean")
    write_dataset(clean_dataset, out)
    return out


@pytest.fixture
def data_dir(tmp_path, clean_dir) -> Path:
    """A private copy of the clean dataset that a test may modify."""
    out = tmp_path / "data"
    shutil.copytree(clean_dir, out)
    return out


