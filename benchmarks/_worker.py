"""Measurements in a fresh process on a given copy of the package: ours, or a baseline unpacked from git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_worker(script: str | Path, package_root: Path, *argv: str) -> dict[str, Any]:
    """Run ``script --worker *argv`` with ``package_root`` first on the path; return the JSON of its last line.

    The worker prints the package folder it imported as ``"package"``: it must be ``package_root``
    (a stale install would otherwise measure the wrong code).
    """
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    result = subprocess.run([sys.executable, str(script), "--worker", *argv], env=env, capture_output=True,
                            text=True, check=True)
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(out["package"]).resolve() == package_root.resolve(), out["package"]
    return out


def unpack_package(root: Path, revision: str, into: Path) -> Path:
    """Unpack ``jmlink_analytics`` as it was at git ``revision`` of ``root`` into ``into``; return ``into``."""
    archive = subprocess.run(["git", "-C", str(root), "archive", revision, "jmlink_analytics"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
