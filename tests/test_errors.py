"""One error base class: every project error is a FashionSearchError, and every command line prints one as
one ``error:`` line with exit status 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from finetune.captions import CaptionError
from ingest.pipeline import IngestError
from shared.storage.catalog import CatalogError, InvalidProductError
from shared.products.datasets import DatasetError
from shared.disk import DiskFullError, DiskSpaceError
from shared.errors import FashionSearchError
from shared.products.images import ImageError
from shared.models import ModelLoadError
from shared.models.downloads import DownloadError
from shared.models.lite_weights import LiteWeightsError
from shared.models.registry import ConfigError
from shared.products.fields import ProductIdError
from shared.runtime import DeviceError
from shared.search.types import RetrieverError
from shared.storage.vector_store.base import StoreError
from shared.models.weights import WeightsError

ERRORS_AND_OLD_BASES: list[tuple[type[Exception], type[Exception]]] = [
    (CaptionError, ValueError), (IngestError, RuntimeError), (CatalogError, RuntimeError), (InvalidProductError, ValueError),
    (DatasetError, ValueError), (DiskSpaceError, OSError), (DiskFullError, OSError), (ImageError, ValueError),
    (DownloadError, RuntimeError), (LiteWeightsError, RuntimeError), (ModelLoadError, RuntimeError), (ConfigError, ValueError),
    (ProductIdError, ValueError), (DeviceError, RuntimeError), (RetrieverError, RuntimeError), (StoreError, RuntimeError),
    (WeightsError, ValueError),
]


@pytest.mark.parametrize(("error", "old_base"), ERRORS_AND_OLD_BASES, ids=lambda c: c.__name__)
def test_every_project_error_derives_from_the_base_and_keeps_its_old_base(error: type[Exception], old_base: type[Exception]) -> None:
    assert issubclass(error, FashionSearchError) and issubclass(error, old_base)


def test_a_disk_space_error_is_still_an_os_error_with_its_errno() -> None:
    error = DiskSpaceError(28, "No space left on device")
    assert isinstance(error, OSError) and error.errno == 28


def _raise(error: Exception) -> Callable[..., None]:
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    return broken


@pytest.mark.parametrize(
    ("target", "module", "args"),
    [
        ("ingest.cli.run_status", "ingest.cli", ["--status"]),
        ("finetune.train.train", "finetune.cli", ["--model", "tiny-test", "--dataset", "ashraq/x"]),
        ("finetune.evaluation.run", "finetune.evaluate", ["--models", "tiny-test"]),
        ("finetune.wise_ft.interpolate_many", "finetune.interpolate", ["--base", "a", "--finetuned", "b", "--alpha", "1", "--output", "c"]),
    ],
)
def test_every_cli_prints_a_project_error_as_one_line(
    target: str, module: str, args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from importlib import import_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(target, _raise(StoreError("the store broke; restart it")))
    if module == "finetune.cli":
        args = [*args, "--output-dir", str(tmp_path)]
    assert import_module(module).main(args) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: the store broke; restart it"
