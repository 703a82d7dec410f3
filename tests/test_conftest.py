"""The test harness's seeding (tests/conftest.py): one seed per test, replayable, printed on failure."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import torch

pytest_plugins = ["pytester"]
CONFTEST = Path(__file__).with_name("conftest.py")


def test_seed_is_the_crc32_of_the_test_id_and_feeds_the_fixtures(request, seed, rng, generator):
    if os.environ.get("SIGNLAB_TEST_SEED") is None:
        assert seed == zlib.crc32(request.node.nodeid.encode())
    assert rng.random() == np.random.default_rng(seed).random()
    assert torch.equal(torch.rand(4, generator=generator), torch.rand(4, generator=_gen(seed)))


def test_torch_global_generator_is_seeded_with_the_test_seed(seed):
    # a module's default initialisation draws from here: it must not depend on earlier tests
    assert torch.equal(torch.rand(4), torch.rand(4, generator=_gen(seed)))


def test_a_failing_test_reports_its_seed_and_the_replay_command(pytester, monkeypatch):
    monkeypatch.delenv("SIGNLAB_TEST_SEED", raising=False)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_fails="""
        def test_draws(rng):
            assert rng.random() > 2
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    expected = zlib.crc32(b"test_fails.py::test_draws")
    result.stdout.fnmatch_lines(
        [f"*seed = {expected}; replay with SIGNLAB_TEST_SEED={expected} python -m pytest*"]
    )


def test_a_forced_seed_is_used(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_forced="""
        def test_seed(seed):
            assert seed == 1234
        """
    )
    monkeypatch.setenv("SIGNLAB_TEST_SEED", "1234")
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
