"""The search stage's parts, composed by :class:`shared.retriever.FashionRetriever`.

- :mod:`shared.search.store_session`: the vector store, opened on use and released when idle;
- :mod:`shared.search.query_encoder`: query embeddings, recent text queries cached;
- :mod:`shared.search.catalog_results`: store hits filled in from the SQL catalog.
"""
