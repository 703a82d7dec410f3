"""Shared fixtures: one seed per random test (printed when it fails), one thread, hypothesis profiles.

Every random test takes its randomness from the ``seed`` fixture (or ``rng`` / ``generator`` built on
it). The seed is derived from the test's id, so a run is reproducible by default; when a test fails,
its report shows the seed and the command that replays it. ``SIGNLAB_TEST_SEED=<int>`` forces a seed,
``SIGNLAB_TEST_SEED=random`` draws fresh ones (to explore; failures still print theirs).

Before each test torch's global generator is seeded with the same seed. Tests should not draw from
it (pass ``generator=``), but some draws are not the test's to choose: a ``torch.nn.Linear``
initialises its weights from torch's global generator, and dropout draws from it. Seeding it per
test makes those tests replayable too, and independent of which tests ran before them. (numpy's
global functions are banned by ruff's NPY002; nothing here uses the ``random`` module.)

Hypothesis runs derandomized under ``CI`` (the ``ci`` profile), so CI sees the same examples on every
run; locally the ``dev`` profile explores and keeps its example database.
"""

from __future__ import annotations

import os
import secrets
import zlib

import numpy as np
import pytest
import torch
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SEED_ENV = "SIGNLAB_TEST_SEED"
_SEED = pytest.StashKey[int]()


def _seed_for(nodeid: str) -> int:
    forced = os.environ.get(SEED_ENV)
    if forced == "random":
        return secrets.randbelow(2**31)
    if forced:
        return int(forced)
    return zlib.crc32(nodeid.encode())


def _seed_of(item: pytest.Item) -> int:
    """The test's seed, drawn once per test (so ``random`` gives the hook and the fixture one seed)."""
    if _SEED not in item.stash:
        item.stash[_SEED] = _seed_for(item.nodeid)
        item.user_properties.append(("seed", item.stash[_SEED]))
    return item.stash[_SEED]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Seed torch's global generator with the test's seed, before the test's fixtures run."""
    torch.manual_seed(_seed_of(item))


@pytest.fixture
def seed(request) -> int:
    """This test's seed (stable per test id); shown in the report if the test fails."""
    return _seed_of(request.node)


@pytest.fixture
def rng(seed) -> np.random.Generator:
    """A numpy generator seeded with this test's seed."""
    return np.random.default_rng(seed)


@pytest.fixture
def generator(seed) -> torch.Generator:
    """A torch generator seeded with this test's seed."""
    return torch.Generator().manual_seed(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in item.user_properties:
            if name == "seed":
                report.sections.append(
                    (
                        "random seed",
                        f"seed = {value}; replay with {SEED_ENV}={value} "
                        f"python -m pytest '{item.nodeid}'",
                    )
                )


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: tiny matmuls are fastest and steadiest that way."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
