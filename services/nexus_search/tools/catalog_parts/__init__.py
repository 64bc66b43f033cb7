"""The catalog's content, one section per module, composed by ``tools/build_catalog.py``.

``helpers`` holds what the sections share: the hash-based picks and dates that make the output
reproducible, slugs, and the entry shape. ``places`` holds the cities and venues the other
sections refer to.
"""
