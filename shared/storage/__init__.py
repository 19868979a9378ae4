"""Stage 3, storage: where an embedded catalog lives.

- :mod:`shared.storage.vector_store`: the vector store front over the embedded Qdrant Edge and server drivers;
- :mod:`shared.storage.catalog` (+ :mod:`~shared.storage.catalog_tables`): product metadata and ingest runs in SQL;
- :mod:`shared.storage.collection`: the collection contract (model identity, the model-fits check,
  image paths, the store and catalog in step).
"""
