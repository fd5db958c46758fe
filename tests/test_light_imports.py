"""The sending path stays light: the sender and its forked composers (bench/send.py measures their
memory) must not load pandas, scipy or matplotlib, which cost them a hundred megabytes each, nor
numpy (eleven)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "scipy", "matplotlib", "numpy")


@pytest.mark.parametrize("module", ["edm.runner", "edm.delivery.sender", "edm.delivery.compose_pool",
                                    "edm.tracking.app"])
def test_the_sending_and_tracking_path_loads_no_heavy_library(module: str) -> None:
    check = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


@pytest.mark.parametrize("module", ["edm.runner", "edm.delivery.sender", "edm.delivery.compose_pool"])
def test_the_sending_path_loads_neither_the_tracking_server_nor_alembic(module: str) -> None:
    """Eleven megabytes (Alembic, Mako, Pygments) and three (Starlette, uvicorn) a sending process and
    each of its composers would carry: the sender signs links (edm.tracking.links) and opens a store
    already migrated (edm.store.migrate)."""
    server = ("alembic", "starlette", "uvicorn", "edm.tracking.app")
    check = f"import sys, {module}; print(','.join(m for m in {server!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_the_lazy_packages_still_export_their_names() -> None:
    import edm.customers
    import edm.privacy
    import edm.tracking

    assert callable(edm.customers.recompute_profiles) and callable(edm.privacy.erase_customer)
    assert callable(edm.tracking.create_tracking_app) and callable(edm.tracking.TrackingLinks)
    with pytest.raises(AttributeError):
        _ = edm.customers.no_such_name
