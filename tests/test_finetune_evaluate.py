from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from finetune.checkpoints import append_log
from finetune.data import decode_products
from finetune.evaluate import main
from finetune.evaluation import embed_gallery
from shared.products.datasets import open_products
from shared.models import load_model
from shared.models.weights import save_weights


def test_evaluate_writes_json_markdown_and_plots(parquet_dataset: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "tuned.pt"
    save_weights(weights, load_model("tiny-test", None).model, "tiny-test",
                 metadata={"training": {"dataset": str(parquet_dataset), "subset_size": None, "val_fraction": 0.3, "seed": 1}})
    log = tmp_path / "train_log.jsonl"
    for epoch in (1, 2):
        append_log(log, {"epoch": epoch, "train_loss": 3.0 - epoch, "val_R@1": 0.1 * epoch, "val_R@10": 0.3 * epoch})
    out = tmp_path / "results"
    code = main(["--models", "tiny-test", str(weights), "--pretrained", "none", "--output-dir", str(out),
                 "--train-log", str(log), "--examples", "2"])
    assert code == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["val_fraction"] == 0.3 and report["seed"] == 1  # split read from the weights' metadata
    assert set(report["results"]) == {"tiny-test (base)", "tuned.pt"}
    tasks = report["results"]["tuned.pt"]["all"]
    assert {"display_name", "subCategory", "articleType", "baseColour"} <= set(tasks)
    assert {"R@1", "R@10", "MRR@10"} <= set(tasks["display_name"])
    assert {"P@1", "P@10", "MRR"} <= set(tasks["articleType"])
    assert tasks["articleType"]["queries"] == 5  # one raw query per distinct article type
    assert report["results"]["tuned.pt"]["val"]["display_name"]["queries"] == report["val_names"]
    table = (out / "evaluation.md").read_text()
    assert "| tuned.pt | all |" in table and "| tiny-test (base) | val |" in table
    assert (out / "visualization" / "loss.png").is_file() and (out / "visualization" / "val_metrics.png").is_file()
    assert len(list((out / "retrieval_examples").glob("*.png"))) == 4


def test_shared_frozen_prefix_gives_the_same_embeddings(parquet_dataset: Path) -> None:
    products = decode_products(open_products(str(parquet_dataset)), 6, progress=False)
    a = load_model("tiny-test", None, init_seed=0)
    b = load_model("tiny-test", None, init_seed=1)
    together = embed_gallery([a, b], products, range(6))
    alone = embed_gallery([b], products, range(6))
    assert np.allclose(together[1], alone[0], atol=1e-5)
    assert not np.allclose(together[0], together[1])


def test_a_bad_weights_file_names_the_models_flag(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path) -> None:
    notes = tmp_path / "x.pt"
    notes.write_text("not weights")
    misfit = tmp_path / "misfit.pt"
    save_weights(misfit, {"visual.weight": torch.zeros(3)}, "tiny-test",
                 metadata={"training": {"dataset": str(parquet_dataset)}})
    for models, expected in (([str(notes)], "is not a torch weights file: it is a text file"), ([str(misfit)], "do not fit the model tiny-test they name")):
        code = main(["--models", *models, "--dataset", str(parquet_dataset), "--output-dir", str(tmp_path / "out")])
        err = capsys.readouterr().err
        line = err[err.index("error: "):]  # after the dataset's progress bars
        assert code == 2 and line.startswith(f"error: --models {models[0]}: ") and expected in line
        assert "--weights" not in line and "--model " not in line and line.count("\n") == 1
