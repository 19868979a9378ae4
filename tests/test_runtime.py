from __future__ import annotations

import subprocess
import sys

from shared.runtime import tune_allocator


def test_allocator_tuning_applies_on_glibc() -> None:
    assert tune_allocator() is True
    assert tune_allocator() is True  # idempotent


def test_allocator_tuning_can_be_disabled() -> None:
    code = "import shared.runtime as r; print(r.tune_allocator())"
    result = subprocess.run(
        [sys.executable, "-c", code], env={"FASHION_TUNE_MALLOC": "0", "PATH": ""}, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
