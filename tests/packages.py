"""Installing a plugin package for a test, the way its users would, off-line.

`pip install` writes the package into a folder of the test's own; a
subprocess sees it through PYTHONPATH, and this process only when a test puts
the folder on `sys.path` for its duration. Nothing is downloaded
(`--no-index`): the build uses the setuptools and wheel of the test extra.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def install(source: Path, site: Path) -> Path:
    """Install the package in `source` into `site`; return `site`.

    Building writes `build/` and `*.egg-info` beside the sources, so a package
    kept in the repository is copied out first.
    """
    copy = site.parent / f"{source.name}-source"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        "--no-build-isolation", "--disable-pip-version-check", "--target", str(site), str(copy),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return site


def run_pytest(tests: Path, site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run pytest on `tests` in a fresh interpreter that sees `site`.

    `cwd` should hold no copy of the sources, so what runs is what was installed.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARTERA_")}
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = str(site)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)
