"""The platform's REST API (docs/queue-manager.md): start a workflow from a template, wait for it,
list and stop workflows.

Plain urllib, so the package needs nothing beyond numpy and pandas to drive the platform. The base
URL and token default to `SF_API_URL` and `SF_API_TOKEN`, the names the C++ CLI reads, so a
notebook started next to `streamforge workflow ...` talks to the same platform.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ._timeconv import TimeLike, to_micros
from .errors import ApiError, WorkflowFailed

DEFAULT_API_URL = "http://127.0.0.1:8080"
TERMINAL_STATUSES = frozenset({"finished", "failed", "interrupted"})
Workflow = dict[str, Any]


def _day(value: TimeLike) -> str:
    """A template's from/to parameter: the UTC day, YYYY-MM-DD."""
    micros = to_micros(value)
    return pd.Timestamp(micros * 1000, tz="UTC").strftime("%Y-%m-%d")


class ApiClient:
    """A client of one platform (`streamforge run` or `streamforge queue-manager`)."""

    def __init__(self, url: str | None = None, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get("SF_API_URL") or DEFAULT_API_URL).rstrip("/")
        self._token = token if token is not None else os.environ.get("SF_API_TOKEN", "")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ApiClient({self.url!r})"

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            raise ApiError(f"{method} {path}: HTTP {e.code}: {text.strip()[:500]}",
                           status=e.code, body=text) from None
        except (urllib.error.URLError, OSError) as e:
            raise ApiError(f"{method} {self.url}{path}: platform not reachable ({e}); is "
                           "`streamforge run` serving there (SF_API_URL)?") from None
        return json.loads(text) if text.strip() else None

    def health(self) -> bool:
        """True when the platform answers /health/ready."""
        try:
            self._request("GET", "/health/ready")
        except ApiError:
            return False
        return True

    def templates(self) -> list[dict[str, Any]]:
        """The workflow templates the platform knows (GET /workflows)."""
        answer = self._request("GET", "/workflows")
        return list(answer.get("workflows", answer) if isinstance(answer, dict) else answer)

    def start_workflow(self, template: str | None = None, *, symbol: str | None = None,
                       start: TimeLike | None = None, end: TimeLike | None = None,
                       interval: str | None = None, params: Mapping[str, str] | None = None,
                       queue_id: str | None = None,
                       workflow: Mapping[str, Any] | None = None) -> Workflow:
        """Starts a workflow from a template (or an inline `workflow` definition, which needs the
        admin scope; loopback callers of an embedded platform have it) and returns its state.
        `start`/`end` become the template's `from`/`to` days (`end` exclusive)."""
        body: dict[str, Any] = {}
        if template is not None:
            body["template"] = template
        if workflow is not None:
            body["workflow"] = dict(workflow)
        if symbol is not None:
            body["symbol"] = symbol
        if start is not None:
            body["from"] = _day(start)
        if end is not None:
            body["to"] = _day(end)
        if interval is not None:
            body["interval"] = interval
        if params:
            body["params"] = {k: str(v) for k, v in params.items()}
        if queue_id is not None:
            body["queue_id"] = queue_id
        result: Workflow = self._request("POST", "/queues", body)
        return result

    def workflow(self, queue_id: str) -> Workflow:
        """One workflow with its stages."""
        result: Workflow = self._request("GET", "/queues/" + urllib.parse.quote(queue_id, safe=""))
        return result

    def list_workflows(self, status: str | None = None, symbol: str | None = None,
                       limit: int = 100) -> pd.DataFrame:
        """Workflows, newest first: queue_id, template, status, symbol, created_at, updated_at,
        message (and the raw state in `state`)."""
        query = {"limit": str(limit)}
        if status:
            query["status"] = status
        if symbol:
            query["symbol"] = symbol
        states: list[Workflow] = self._request("GET", "/queues?" + urllib.parse.urlencode(query))
        columns = ["queue_id", "template", "status", "symbol", "created_at", "updated_at",
                   "message", "state"]
        rows = [{
            "queue_id": w.get("queue_id", ""), "template": w.get("template", ""),
            "status": w.get("status", ""), "symbol": w.get("params", {}).get("symbol", ""),
            "created_at": pd.Timestamp(w.get("created_at", 0.0), unit="s", tz="UTC"),
            "updated_at": pd.Timestamp(w.get("updated_at", 0.0), unit="s", tz="UTC"),
            "message": w.get("message", ""), "state": w} for w in states]
        return pd.DataFrame(rows, columns=columns)

    def stop(self, queue_id: str) -> Any:
        """Asks the platform to stop a workflow (202); wait() then sees it end."""
        return self._request("POST", "/queues/" + urllib.parse.quote(queue_id, safe="") + "/stop")

    def wait(self, queue_id: str, timeout: float = 600.0, poll: float = 0.25,
             check: bool = True) -> Workflow:
        """Polls until the workflow ends and returns its final state. With check=True a workflow
        that ends `failed` or `interrupted` raises WorkflowFailed (naming the failed stages); a
        workflow still running after `timeout` seconds raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.workflow(queue_id)
            if state.get("status") in TERMINAL_STATUSES:
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {queue_id} still {state.get('status')} after "
                                   f"{timeout:.0f} s")
            time.sleep(poll)
        if check and state.get("status") != "finished":
            failed = [f"{s.get('name')}: {s.get('message')}" for s in state.get("stages", [])
                      if s.get("status") in ("failed", "interrupted")]
            raise WorkflowFailed(f"workflow {queue_id} {state.get('status')}: "
                                 f"{state.get('message') or '; '.join(failed)}", state)
        return state

    def run_workflow(self, template: str | None = None, *, timeout: float = 600.0,
                     **kwargs: Any) -> Workflow:
        """start_workflow() then wait(): the final state of a workflow that finished."""
        started = self.start_workflow(template, **kwargs)
        return self.wait(started["queue_id"], timeout=timeout)
