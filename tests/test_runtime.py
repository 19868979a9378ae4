from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from shared.errors import FashionSearchError
from shared.runtime import DeviceError, resolve_device, tune_allocator


def test_allocator_tuning_can_be_disabled() -> None:
    code = "import shared.runtime as r; print(r.tune_allocator())"
    result = subprocess.run(
        [sys.executable, "-c", code], env={"FASHION_TUNE_MALLOC": "0", "PATH": ""}, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


FAULTS = """
import resource
import torch
import shared.runtime as runtime
runtime.tune_allocator()
conv = torch.nn.Conv2d(16, 64, 3, padding=1)
x = torch.randn(8, 16, 224, 224)  # output: 98 MiB, above glibc's 32 MiB dynamic mmap ceiling
with torch.inference_mode():
    for _ in range(2):
        conv(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        conv(x)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults_of_three_forwards(tune: bool) -> int:
    env = {"PATH": "", "FASHION_TUNE_MALLOC": "1" if tune else "0", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", FAULTS], env=env, capture_output=True, text=True, check=True)
    return int(result.stdout.strip())


def test_tuned_allocator_reuses_activation_buffers() -> None:
    # untuned, each 98 MiB activation is a fresh mmap: ~25k page faults per forward; tuned, the heap reuses it
    untuned = _page_faults_of_three_forwards(tune=False)
    assert untuned > 30_000
    assert _page_faults_of_three_forwards(tune=True) < untuned / 10


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceError, match="no CUDA GPU is available; use --device cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_device_error_is_a_project_error() -> None:
    assert issubclass(DeviceError, FashionSearchError) and issubclass(DeviceError, RuntimeError)
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
