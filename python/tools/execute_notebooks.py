#!/usr/bin/env python3
"""Executes notebooks top to bottom with nbclient, as CI does (ctest notebooks.Execute).

Each notebook runs in the kernel its metadata names, with SF_NOTEBOOK_OUT (this run's output
directory: headline numbers), SF_NOTEBOOK_WORK (a fresh work directory per notebook: the store,
the servers' logs) and, unless --online, SF_NOTEBOOK_OFFLINE=1 in the kernel's environment. The
executed copy goes to OUT/<name>.ipynb and its figures to OUT/<name>/figure-NN.png, also when a
cell fails, so the failure can be read there; any cell error makes the run fail.

    python execute_notebooks.py --out build/notebooks notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def save_figures(nb: nbformat.NotebookNode, directory: Path) -> int:
    """Writes every PNG output of the notebook as figure-NN.png; returns how many."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                count += 1
                (directory / f"figure-{count:02d}.png").write_bytes(base64.b64decode(png))
    return count


def execute(path: Path, out: Path, timeout: int) -> bool:
    """Runs one notebook; True when every cell succeeded."""
    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if not kernel:
        print(f"{path.name}: no kernelspec in the notebook metadata", file=sys.stderr)
        return False
    work = out / "work" / path.stem
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    os.environ["SF_NOTEBOOK_WORK"] = str(work)
    # IPC sockets in the work directory: the kernel is reachable by nothing but this process
    # (no TCP port, not even on loopback).
    manager = KernelManager(kernel_name=kernel, transport="ipc", ip=str(work / "kernel"))
    client = NotebookClient(nb, km=manager, timeout=timeout, kernel_name=kernel,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    ok = True
    try:
        client.execute()
    except CellExecutionError as e:
        ok = False
        print(f"{path.name}: a cell failed:\n{e}", file=sys.stderr)
    finally:
        if manager.has_kernel:  # a kernel manager we made is ours to shut down
            manager.shutdown_kernel()
        nbformat.write(nb, out / path.name)
        figures = save_figures(nb, out / path.stem)
    print(f"{path.name}: {'ok' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s, "
          f"{figures} figures -> {out / path.name}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="executed copies and figures")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--online", action="store_true",
                        help="let the notebooks use Binance when reachable (CI runs offline)")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["SF_NOTEBOOK_OUT"] = str(out)
    if not args.online:
        os.environ["SF_NOTEBOOK_OFFLINE"] = "1"
    failed = [nb.name for nb in args.notebooks if not execute(nb.resolve(), out, args.timeout)]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
