"""``python -m nexus_search``: the search service, configured from ``NEXUS_*``."""

import asyncio

from nexus_mesh.logs import configure_logging
from nexus_mesh.settings import load_settings
from nexus_search.service import run

settings = load_settings()
configure_logging(settings.log_level, fmt=settings.log_format, service="nexus-search")
asyncio.run(run(settings))
