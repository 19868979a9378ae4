"""Stage 4, search: the parts that :class:`shared.retriever.FashionRetriever` composes.

- :mod:`shared.search.store_session`: the vector store, opened on use and released when idle;
- :mod:`shared.search.query_encoder`: query embeddings, recent text queries cached;
- :mod:`shared.search.catalog_results`: store hits filled in from the SQL catalog;
- :mod:`shared.search.query_model` and :mod:`~shared.search.recorded_model`: the recorded model, checked on every load;
- :mod:`shared.search.query_understanding`: facet values recognised in a text query ("mens navy
  running shoes"), applied as soft filters that relax when too few products match;
- :mod:`shared.search.types`: results and query-argument checks.
"""
