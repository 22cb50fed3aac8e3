"""The REST client against the embedded platform the SQLite fixture runs."""

from __future__ import annotations

import pytest

import streamforge as sf
from conftest import Populated


@pytest.fixture
def api(sqlite_store: Populated) -> sf.ApiClient:
    assert sqlite_store.platform is not None
    return sqlite_store.platform.api


def test_templates_and_list(api: sf.ApiClient, sqlite_store: Populated) -> None:
    names = {t["name"] for t in api.templates()}
    assert {"historical-load", "historical-gnn", "realtime-monitor", "test-flow"} <= names
    listed = api.list_workflows()
    assert set(sqlite_store.workflows.values()) <= set(listed["queue_id"])
    assert str(listed["created_at"].dt.tz) == "UTC"
    finished = api.list_workflows(status="finished")
    assert set(finished["status"]) == {"finished"}
    assert api.workflow(sqlite_store.workflows["candles"])["template"] == "historical-load"


def test_start_wait_and_stop(api: sf.ApiClient) -> None:
    done = api.run_workflow("test-flow", params={"seconds": "1"}, timeout=60)
    assert done["status"] == "finished"
    running = api.start_workflow("test-flow", params={"seconds": "120"})
    assert running["status"] in ("pending", "running")
    api.stop(running["queue_id"])
    final = api.wait(running["queue_id"], timeout=60, check=False)
    assert final["status"] == "interrupted"
    with pytest.raises(sf.WorkflowFailed, match="interrupted"):
        api.wait(running["queue_id"], timeout=5)


def test_errors_are_clear(api: sf.ApiClient) -> None:
    with pytest.raises(sf.ApiError) as info:
        api.start_workflow("no-such-template", symbol="BTCUSDT")
    assert info.value.status == 400 and "template" in str(info.value)
    with pytest.raises(sf.ApiError) as missing:
        api.workflow("no-such-queue")
    assert missing.value.status == 404
    with pytest.raises(sf.ApiError, match="not reachable"):
        sf.ApiClient("http://127.0.0.1:1").list_workflows()
    assert not sf.ApiClient("http://127.0.0.1:1").health()
