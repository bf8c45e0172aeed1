"""The ASGI entry point servers load: `portal.asgi:app`."""

from __future__ import annotations

import logging

from portal.app import create_app
from portal.plugins import PluginError

logger = logging.getLogger(__name__)

try:
    app = create_app()
except PluginError as error:
    # One line naming the plugin, not a traceback through the server's loader.
    logger.critical("Cartera cannot start: %s", error)
    raise SystemExit(1) from None
