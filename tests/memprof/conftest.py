"""Shared fixtures of the memprof tests."""

import pytest


@pytest.fixture(scope="session")
def cluster():
    """One Dask LocalCluster for the whole session: 2 real worker processes."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as local, distributed.Client(local, set_as_default=False) as client:
        yield client
