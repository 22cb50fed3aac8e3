"""Starting the C++ binary from Python: the embedded platform and exchange-sim.

Notebooks and tests need a platform to load data through, on a machine that may have no internet.
These context managers start `streamforge run` (with its REST API on 127.0.0.1, a free port) and
`streamforge exchange-sim` (Binance's REST and WebSocket API over recorded files), read the URLs
the processes print, and stop the processes on exit, so a notebook cell does not leave servers
behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from .api import ApiClient
from .errors import ApiError
from .store import Store

_START_TIMEOUT_S = 60.0


def find_binary() -> Path:
    """The `streamforge` binary: $SF_STREAMFORGE_BIN, else build/bin/streamforge in this checkout
    or above the working directory, else `streamforge` on PATH."""
    explicit = os.environ.get("SF_STREAMFORGE_BIN")
    if explicit:
        return Path(explicit)
    for base in (Path.cwd(), Path(__file__).resolve().parent):
        for parent in (base, *base.parents):
            candidate = parent / "build" / "bin" / "streamforge"
            if candidate.is_file():
                return candidate
    on_path = shutil.which("streamforge")
    if on_path:
        return Path(on_path)
    raise FileNotFoundError("no streamforge binary: build it (scripts/build.sh) or set "
                            "SF_STREAMFORGE_BIN")


def find_repo_root() -> Path | None:
    """The checkout holding the binary (its workflows/ and ../shared/data), when there is one."""
    binary = find_binary().resolve()
    root = binary.parent.parent.parent
    return root if (root / "workflows").is_dir() else None


def shared_data_dir() -> Path | None:
    """The offline Binance recordings: $SF_SHARED_DATA, else ../shared/data next to the checkout."""
    explicit = os.environ.get("SF_SHARED_DATA")
    if explicit:
        return Path(explicit)
    root = find_repo_root()
    if root is not None and (root.parent / "shared" / "data").is_dir():
        return root.parent / "shared" / "data"
    return None


class _Process:
    """A child process whose stdout goes to a file in `workdir`, stopped on exit."""

    def __init__(self, name: str, args: Sequence[str], workdir: Path,
                 env: Mapping[str, str] | None) -> None:
        self.name = name
        self.workdir = workdir
        self.stdout_path = workdir / f"{name}.out"
        self.log_path = workdir / f"{name}.log"
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.stdout_path, "wb") as out, open(self.log_path, "wb") as err:
            self.process = subprocess.Popen(list(args), stdout=out, stderr=err, cwd=workdir,
                                            env=full_env, start_new_session=True)

    def wait_for_lines(self, count: int, timeout: float = _START_TIMEOUT_S) -> list[str]:
        """The first `count` lines of stdout, once written (the URLs the binaries print)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.stdout_path.read_text().splitlines()
            if len(lines) >= count:
                return lines[:count]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        tail = self.log_path.read_text(errors="replace").splitlines()[-5:]
        raise RuntimeError(f"{self.name} did not start (exit {self.process.returncode}); "
                           f"{self.log_path}:\n" + "\n".join(tail))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _Managed:
    """Context-manager plumbing shared by the two servers."""

    _proc: _Process

    def __enter__(self) -> _Managed:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        self._proc.stop()


def _workdir(workdir: str | os.PathLike[str] | None, prefix: str) -> Path:
    path = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=prefix))
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


class ExchangeSim(_Managed):
    """`streamforge exchange-sim --data DIR` on a free port: `url` (REST) and `ws_url`; with
    `replay` it also replays recorded WebSocket captures at `speed`."""

    def __init__(self, data_dir: str | os.PathLike[str], *,
                 replay: Sequence[str | os.PathLike[str]] = (), speed: str = "max",
                 extra_args: Sequence[str] = (),
                 workdir: str | os.PathLike[str] | None = None) -> None:
        self.workdir = _workdir(workdir, "sf-exchange-sim-")
        args = [str(find_binary()), "exchange-sim", "--data", str(data_dir), "--port", "0"]
        for capture in replay:
            args += ["--replay", str(capture)]
        if replay:
            args += ["--speed", speed]
        args += list(extra_args)
        self._proc = _Process("exchange-sim", args, self.workdir, None)
        self.url, self.ws_url = self._proc.wait_for_lines(2)

    @property
    def env(self) -> dict[str, str]:
        """What a platform needs in its environment to use this simulator instead of Binance."""
        return {"BINANCE_API_URL": self.url, "BINANCE_WS_URL": self.ws_url}


class EmbeddedPlatform(_Managed):
    """`streamforge run --port 0 --store URL` with its REST API on 127.0.0.1; `url` and `api`.
    Stages write graphs and models under `workdir` (./data/graphs, ./data/models)."""

    def __init__(self, store_url: str, *, env: Mapping[str, str] | None = None,
                 workdir: str | os.PathLike[str] | None = None) -> None:
        self.workdir = _workdir(workdir, "sf-platform-")
        self.store_url = store_url
        self._env = dict(env or {})
        args = [str(find_binary()), "run", "--port", "0", "--sf-store", store_url]
        self._proc = _Process("platform", args, self.workdir, env)
        first = self._proc.wait_for_lines(1)[0]
        marker = "API "
        if marker not in first:
            self._proc.stop()
            raise RuntimeError(f"unexpected first line from streamforge run: {first!r}")
        self.url = first.split(marker, 1)[1].split()[0]
        self.api = ApiClient(self.url)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self.api.health():
            if time.monotonic() > deadline:
                self._proc.stop()
                raise RuntimeError(f"platform at {self.url} never became ready; {self._proc.log_path}")
            time.sleep(0.05)

    @property
    def model_dir(self) -> Path:
        """Where gnn-trainer stages of this platform write models."""
        return self.workdir / "data" / "models"

    @property
    def graph_dir(self) -> Path:
        """Where graph-builder stages of this platform export graphs."""
        return self.workdir / "data" / "graphs"

    def run_service(self, service: str, timeout: float = 600.0, **options: str | int) -> str:
        """Runs one `streamforge <service>` to completion against this platform's store and
        working directory (so it finds the models and graphs the platform's stages wrote), e.g.
        run_service("gnn-infer", model_name=..., graph_name=..., predict_last=400). Returns its
        stderr log; raises CalledProcessError when it fails."""
        args = [str(find_binary()), service, "--sf-store", self.store_url, "--http-port", "-1"]
        for key, value in options.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        done = subprocess.run(args, cwd=self.workdir, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **self._env})
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
        return done.stderr

    def stop(self) -> None:
        """Stops running workflows first (the store would otherwise resume them on the next start
        against servers that are gone), then the platform."""
        if self._proc.process.poll() is None:
            try:
                running = self.api.list_workflows(status="running")
                for queue_id in running["queue_id"]:
                    self.api.stop(queue_id)
                for queue_id in running["queue_id"]:
                    self.api.wait(queue_id, timeout=30, check=False)
            except (ApiError, TimeoutError):  # the platform is going away regardless
                pass
        self._proc.stop()


class Lab(_Managed):
    """What a notebook needs to load market data: the embedded platform with a SQLite store in
    `workdir`, fed by Binance (online) or by exchange-sim over recorded files (offline, `data_dir`
    and optional WebSocket `replay` captures). `api`, `store_url`, `connect()`; stops both."""

    def __init__(self, workdir: str | os.PathLike[str], *, online: bool,
                 data_dir: str | os.PathLike[str] | None = None,
                 replay: Sequence[str | os.PathLike[str]] = (), speed: str = "max") -> None:
        self.workdir = _workdir(workdir, "sf-lab-")
        self.online = online
        self.sim: ExchangeSim | None = None
        env: dict[str, str] = {}
        if not online:
            if data_dir is None:
                raise ValueError("offline needs data_dir (the recorded files exchange-sim serves)")
            self.sim = ExchangeSim(data_dir, replay=replay, speed=speed,
                                   workdir=self.workdir / "exchange-sim")
            env = self.sim.env
        self.store_url = f"sqlite:{self.workdir / 'streamforge.db'}"
        try:
            self.platform = EmbeddedPlatform(self.store_url, env=env,
                                             workdir=self.workdir / "platform")
        except BaseException:
            if self.sim is not None:
                self.sim.stop()
            raise
        self.api = self.platform.api

    def connect(self) -> Store:
        """The store the platform writes."""
        return Store(self.store_url)

    def stop(self) -> None:
        self.platform.stop()
        if self.sim is not None:
            self.sim.stop()
