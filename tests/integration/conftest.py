"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head on loopback only (Ray's switch for laptops: no cluster address on the network); its address.

    The switch is also in the environment while the fixture lives, so that a `plait` subprocess joining the
    head resolves 127.0.0.1 to loopback too.
    """
    ray = pytest.importorskip("ray")
    from ray._private import ray_constants

    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        env.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
        info = ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        yield info.address_info["gcs_address"]
        ray.shutdown()
