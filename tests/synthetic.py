"""Small generated product datasets (coloured garment shapes) in every layout the project reads.

Each product's picture is determined by its attributes: the article type decides the
shape and the base colour its fill, so a model can learn text <-> image from them.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "Red": (200, 30, 30),
    "Blue": (30, 60, 200),
    "Green": (30, 160, 60),
    "Black": (20, 20, 20),
    "Yellow": (230, 200, 20),
    "Purple": (120, 40, 160),
}
ARTICLES: dict[str, tuple[str, str]] = {  # articleType -> (masterCategory, subCategory)
    "Tshirts": ("Apparel", "Topwear"),
    "Trousers": ("Apparel", "Bottomwear"),
    "Casual Shoes": ("Footwear", "Shoes"),
    "Handbags": ("Accessories", "Bags"),
    "Watches": ("Accessories", "Watches"),
}
GENDERS = ("Men", "Women")
SEASONS = ("Summer", "Winter")
USAGES = ("Casual", "Formal")


def draw_garment(article: str, colour: str, size: tuple[int, int] = (60, 80)) -> Image.Image:
    """A white 60x80 portrait with one shape per article type, filled with the colour."""
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    fill = COLOURS[colour]
    w, h = size
    if article == "Tshirts":
        pen.polygon([(10, 15), (25, 10), (35, 10), (50, 15), (55, 30), (45, 30), (45, 70), (15, 70), (15, 30), (5, 30)], fill=fill)
    elif article == "Trousers":
        pen.polygon([(15, 8), (45, 8), (50, 75), (35, 75), (30, 30), (25, 75), (10, 75)], fill=fill)
    elif article == "Casual Shoes":
        pen.polygon([(5, 55), (30, 45), (55, 55), (55, 68), (5, 68)], fill=fill)
    elif article == "Handbags":
        pen.rectangle([10, 35, 50, 70], fill=fill)
        pen.arc([18, 18, 42, 48], 180, 360, fill=fill, width=4)
    else:  # Watches
        pen.rectangle([25, 5, 35, 75], fill=fill)
        pen.ellipse([17, 28, 43, 52], fill=fill, outline="black")
    return image


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def make_rows(count: int, seed: int = 0, start_id: int = 1000) -> list[dict[str, Any]]:
    """`count` products with attributes and JPEG bytes; display names repeat across sizes."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        article = list(ARTICLES)[index % len(ARTICLES)]
        colour = list(COLOURS)[(index // len(ARTICLES)) % len(COLOURS)]
        gender = GENDERS[(index // (len(ARTICLES) * len(COLOURS))) % len(GENDERS)]
        master, sub = ARTICLES[article]
        rows.append(
            {
                "id": start_id + index,
                "gender": gender,
                "masterCategory": master,
                "subCategory": sub,
                "articleType": article,
                "baseColour": colour,
                "season": rng.choice(SEASONS),
                "year": 2010 + index % 5,
                "usage": rng.choice(USAGES),
                "productDisplayName": f"{gender} {colour} {article}",
                "image": jpeg_bytes(draw_garment(article, colour)),
            }
        )
    return rows


def write_parquet(folder: Path, rows: Sequence[dict[str, Any]], drop: Sequence[str] = ()) -> Path:
    """A folder with one parquet file in the Hugging Face schema (image as {bytes, path})."""
    import datasets

    folder.mkdir(parents=True, exist_ok=True)
    columns = {key: [row[key] for row in rows] for key in rows[0] if key not in drop}
    features = {}
    if "image" in columns:
        columns["image"] = [{"bytes": data, "path": None} for data in columns["image"]]
        features["image"] = datasets.Image()
    table = datasets.Dataset.from_dict(columns)
    if features:
        table = table.cast_column("image", datasets.Image())
    table.to_parquet(str(folder / "train-00000-of-00001.parquet"))
    return folder


def write_kaggle(folder: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """A Kaggle-layout folder: styles.csv plus images/<id>.jpg."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    header = [key for key in rows[0] if key != "image"]
    with (folder / "styles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row[key] for key in header])
            (folder / "images" / f"{row['id']}.jpg").write_bytes(row["image"])
    return folder
