"""Training curves and retrieval example grids (matplotlib, written as PNG files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_training_log(records: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """``loss.png`` (train loss per epoch) and ``val_metrics.png`` (validation metrics per epoch)."""
    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs = [r["epoch"] for r in records]
    written = []
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(epochs, [r["train_loss"] for r in records], marker="o")
    axis.set(xlabel="epoch", ylabel="contrastive loss", title="training loss")
    axis.xaxis.set_major_locator(_integer_ticks())
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out_dir / "loss.png", dpi=100)
    written.append(out_dir / "loss.png")
    plt.close(figure)
    keys = sorted({k for r in records for k in r if k.startswith("val_")})
    if keys:
        figure, axis = plt.subplots(figsize=(6, 4))
        for key in keys:
            axis.plot(epochs, [r.get(key) for r in records], marker="o", label=key[4:])
        axis.set(xlabel="epoch", ylabel="score", title="validation display-name retrieval", ylim=(0, 1))
        axis.xaxis.set_major_locator(_integer_ticks())
        axis.legend()
        axis.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(out_dir / "val_metrics.png", dpi=100)
        written.append(out_dir / "val_metrics.png")
        plt.close(figure)
    return written


def retrieval_grid(rows: Sequence[tuple[str, Sequence[Image.Image], Sequence[bool]]], path: Path, title: str = "") -> Path:
    """One row per query: the query text, then its top-k images, relevant ones framed in green."""
    plt = _pyplot()
    columns = max(len(images) for _, images, _ in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.1 * columns, 1.6 * len(rows)), squeeze=False)
    for row, (query, images, hits) in enumerate(rows):
        for column in range(columns):
            axis = axes[row][column]
            axis.set_xticks([])
            axis.set_yticks([])
            if column >= len(images):
                axis.axis("off")
                continue
            axis.imshow(images[column])
            colour = "green" if hits[column] else "red"
            for spine in axis.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3)
        axes[row][0].set_title(query[:60], loc="left", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
