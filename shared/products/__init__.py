"""Stage 1, products: what a catalog product is and how it is read.

- :mod:`shared.products.schema`: every product field once (kind, label, filterable, SQL length);
- :mod:`shared.products.fields`: the row rules (product ids, canonical facet spellings);
- :mod:`shared.products.datasets` (+ :mod:`~shared.products.hub`): hub, parquet and Kaggle datasets;
- :mod:`shared.products.images`: safe decoding of catalog images and uploads;
- :mod:`shared.products.preprocessing`: the model's image transforms.
"""
