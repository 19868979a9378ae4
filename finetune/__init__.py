"""Fine-tuning CLIP on fashion products: training, WiSE-FT interpolation and evaluation."""

from __future__ import annotations

from typing import Any

from finetune.config import TrainConfig, recipe_for
from shared.model_spec import DEFAULT_MODEL

__all__ = ["TrainConfig", "train_fashion_clip"]


def train_fashion_clip(
    batch_size: int | None = None,
    num_epochs: int | None = None,
    learning_rate: float | None = None,
    subset_size: int | None = None,
    *,
    model: str = DEFAULT_MODEL,
    dataset: str | None = None,
    output_dir: str = ".",
    **options: Any,
) -> Any:
    """Fine-tune and return the trained model (a ``shared.models.LoadedModel``, best epoch loaded).

    ``learning_rate`` sets every parameter group's rate; any other TrainConfig field
    (``lr_text``, ``precision``, ``unlock_last_blocks``, ...) can be passed as a keyword.
    Unset options take the model's recommended recipe.
    """
    from finetune.train import train

    values: dict[str, Any] = recipe_for(model)
    values.update(model=model, output_dir=output_dir, subset_size=subset_size)
    if dataset is not None:
        values["dataset"] = dataset
    if batch_size is not None:
        values["batch_size"] = batch_size
    if num_epochs is not None:
        values["epochs"] = num_epochs
    if learning_rate is not None:
        values.update(lr_image=learning_rate, lr_text=learning_rate, lr_projection=learning_rate)
    values.update(options)
    return train(TrainConfig(**values)).loaded
