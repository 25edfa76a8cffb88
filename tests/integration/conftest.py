"""Shared pytest configuration for the Colony black-box integration suite.

The broker fixtures live in tests/support/broker.py (on PYTHONPATH when run by
ctest; added here too so `python3 -m pytest tests/integration` works as is).
"""

import os
import sys

import pytest

_SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support")
if os.path.abspath(_SUPPORT) not in [os.path.abspath(p) for p in sys.path]:
    sys.path.insert(0, os.path.abspath(_SUPPORT))

from broker import broker, broker_factory, is_mosquitto  # noqa: E402,F401


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "colony_only: needs a Colony-specific feature (skipped when COLONY_TEST_BROKER=mosquitto)")
    config.addinivalue_line(
        "markers", "broker_opts(**opts): options for the `broker` fixture (see tests/support/broker.py)")


def pytest_collection_modifyitems(config, items):
    # COLONY_TEST_RUN_ALL=1 runs colony_only tests against Mosquitto too (to see the deviations).
    if not is_mosquitto() or os.environ.get("COLONY_TEST_RUN_ALL") == "1":
        return
    for item in items:
        marker = item.get_closest_marker("colony_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(
                reason="colony_only (reference broker is Mosquitto)%s" % (": " + reason if reason else "")))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Make the call-phase report visible to fixtures (to dump broker logs on failure).
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
