"""Integration fixtures: one sandbox process per session, reset before each test."""

from __future__ import annotations

import secrets

import pytest

from hrtest import SINK_SMTP_PASSWORD, Fleet, Moto, Runner, Sandbox, Sink


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("sandbox"))
    yield box
    box.stop()


@pytest.fixture
def api(sandbox):
    """The shared sandbox, reset to its seed state with no faults and an empty change log."""
    sandbox.reset()
    return sandbox


@pytest.fixture
def runner(tmp_path, api):
    return Runner(tmp_path, api)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    server = Moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server):
    """moto with the live aliases back on version 3."""
    moto_server.seed()
    return moto_server


@pytest.fixture
def monitored(tmp_path, moto_server):
    """A sandbox of its own that plays a monitored service: it publishes its CloudWatch metrics to moto every
    second, as an environment no other test uses (CloudWatch keeps what a test published)."""
    state = tmp_path / "monitored"
    state.mkdir()
    environment = f"itest-{secrets.token_hex(4)}"
    box = Sandbox(state, ["--cloudwatch-endpoint", moto_server.url, "--aws-region", moto_server.REGION,
                          "--environment", environment, "--metrics-interval", "1"])
    box.environment = environment
    yield box
    box.stop()


@pytest.fixture(scope="session")
def sink_server(tmp_path_factory):
    server = Sink(tmp_path_factory.mktemp("sink"), SINK_SMTP_PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def sink(sink_server):
    """The notification sink (Slack, PagerDuty, status page, SMTP), with nothing recorded and no faults."""
    sink_server.reset()
    return sink_server


@pytest.fixture
def fleet_of(tmp_path):
    fleets: list[Fleet] = []

    def make(count: int) -> Fleet:
        fleets.append(Fleet(tmp_path, count))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.stop()
