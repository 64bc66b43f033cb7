"""The search service: ranked full-text search over the catalog it ships.

``catalog`` loads and validates the documents (``catalog.json``, built by
``tools/build_catalog.py``); ``engine`` indexes them and answers queries with BM25F-ranked hits,
scoped to the campaign asking.
"""
