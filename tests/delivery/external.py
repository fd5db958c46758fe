"""Tests that lean on a program outside Python (Perl's Mail::DKIM, SpamAssassin): skipped on a
developer's machine without it, but never in CI, where .ci/run installs it and a quiet skip would
hide a failing check (`EDM_TEST_REQUIRE_POSTGRES` marks a CI run, as for the PostgreSQL tests)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return bool(os.environ.get("EDM_TEST_REQUIRE_POSTGRES"))


def needs(available: bool, reason: str) -> pytest.MarkDecorator:
    """Skip when the program is missing, outside CI; in CI the test runs, and fails for want of it."""
    return pytest.mark.skipif(not available and not in_ci(), reason=reason)
