"""The plugin manager: core-bundled plugins and installed ones share one path."""

from __future__ import annotations

import logging

import pluggy

from portal import hookspecs
from portal.config import Settings
from portal.core import purchases

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cartera.plugins"
# Core features that answer hooks the way any plugin does.
CORE_PLUGINS = (purchases,)


def build_manager(settings: Settings, *, load_installed: bool = True) -> pluggy.PluginManager:
    manager = pluggy.PluginManager("cartera")
    manager.add_hookspecs(hookspecs)
    for name in settings.disabled_plugins:
        manager.set_blocked(name)
    for module in CORE_PLUGINS:
        manager.register(module, name=module.__name__)
    if load_installed:
        loaded = manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        logger.info("plugins loaded from entry points: %s", loaded)
    # A misspelt hook implementation fails here rather than never being called.
    manager.check_pending()
    return manager


def collect(hook: pluggy.HookCaller, **kwargs: object) -> list:
    """Concatenate the lists each plugin returns."""
    items: list = []
    for result in hook(**kwargs):
        if result:
            items.extend(result)
    return items
