"""The plugin manager: core-bundled plugins and installed ones share one path."""

from __future__ import annotations

import logging

import peewee
import pluggy

from portal import hookspecs
from portal.config import Settings
from portal.core import figures, purchases
from portal.core.models import CORE_MODELS

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cartera.plugins"
# Core features that answer hooks the way any plugin does.
CORE_PLUGINS = (purchases, figures)


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


def known_models(manager: pluggy.PluginManager) -> tuple[type[peewee.Model], ...]:
    """The core's models, then every model a plugin registers."""
    return (*CORE_MODELS, *collect(manager.hook.register_models))


def notify(hook: pluggy.HookCaller, **kwargs: object) -> None:
    """Tell every plugin of an event; one that fails is logged and the rest still hear.

    Events are sent after the change is committed, so a plugin's failure never
    undoes it; the log names the plugin so its author can be told.
    """
    # pluggy calls the last registered first; keep its order.
    for impl in reversed(hook.get_hookimpls()):
        if impl.wrapper or impl.hookwrapper:
            continue  # wrappers surround a call; an event has nothing to wrap
        try:
            impl.function(*(kwargs[name] for name in impl.argnames))
        except Exception:
            logger.exception("plugin %r failed in %s", impl.plugin_name, hook.name)
