"""The plugin manager: core-bundled plugins and installed ones share one path.

Every plugin comes through the entry-point group `cartera.plugins`: the
packages in `plugins/` declare theirs in this project's setup.cfg, exactly as
an outside package declares its own. Tests load only the entry points of the
`cartera` distribution itself (`load_installed=False`), so whatever else is
installed on the machine never changes a test. `CARTERA_DISABLED_PLUGINS`
blocks any of them by entry-point name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata

import peewee
import pluggy

from portal import hookspecs
from portal.config import Settings
from portal.core import figures, purchases
from portal.core.models import CORE_MODELS

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cartera.plugins"
DISTRIBUTION = "cartera"
# Core features that answer hooks the way any plugin does.
CORE_PLUGINS = (purchases, figures)


class PluginError(RuntimeError):
    """A plugin that cannot run: the message names it and says why."""


@dataclass(frozen=True)
class Origin:
    """Where a plugin came from: its entry point and the distribution declaring it."""

    name: str
    distribution: str
    version: str
    disabled: bool = False


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering where each plugin came from (Administration → Plugins)."""

    def __init__(self) -> None:
        super().__init__("cartera")
        self.origins: dict[str, Origin] = {}


def build_manager(settings: Settings, *, load_installed: bool = True) -> PluginManager:
    manager = PluginManager()
    manager.add_hookspecs(hookspecs)
    for name in settings.disabled_plugins:
        manager.set_blocked(name)
    for module in CORE_PLUGINS:
        _register(manager, module, module.__name__)
    distributions = _distributions()
    for distribution in distributions:
        bundled = distribution.metadata["Name"] == DISTRIBUTION
        if load_installed or bundled:
            _load_entry_points(manager, distribution)
    check(manager)
    _warn_unknown_disabled(settings, distributions)
    return manager


def _warn_unknown_disabled(settings: Settings, distributions: list) -> None:
    # A misspelt name would leave the plugin running while the admin thinks it is off.
    names = {
        entry_point.name
        for distribution in distributions
        for entry_point in distribution.entry_points
        if entry_point.group == ENTRY_POINT_GROUP
    }
    for name in settings.disabled_plugins:
        if name not in names:
            logger.warning("CARTERA_DISABLED_PLUGINS names %r, but no plugin has that name", name)


def _distributions() -> list[metadata.Distribution]:
    # The bundled plugins first, so an outside package can never take their names.
    found = list(metadata.distributions())
    return sorted(found, key=lambda d: d.metadata["Name"] != DISTRIBUTION)


def _load_entry_points(manager: PluginManager, distribution: metadata.Distribution) -> None:
    for entry_point in distribution.entry_points:
        if entry_point.group != ENTRY_POINT_GROUP or entry_point.name in manager.origins:
            continue
        name = entry_point.name
        disabled = manager.is_blocked(name)
        manager.origins[name] = Origin(
            name, distribution.metadata["Name"], distribution.version, disabled
        )
        if disabled:
            logger.info("plugin %s disabled by CARTERA_DISABLED_PLUGINS", name)
            continue
        try:
            plugin = entry_point.load()
        except Exception as error:
            raise PluginError(f"plugin {name!r} cannot be imported: {error}") from error
        _register(manager, plugin, name)
        logger.info("plugin loaded: %s (%s)", name, distribution.metadata["Name"])


def _register(manager: PluginManager, plugin: object, name: str) -> None:
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        # pluggy explains over several lines; the command and the log show one.
        reason = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        raise PluginError(f"plugin {name!r}: {reason}") from error


def check(manager: pluggy.PluginManager) -> None:
    """Fail when a plugin implements a hook that does not exist (a misspelt name).

    Called once every plugin is registered, so the portal refuses to start
    rather than never calling the misspelt hook.
    """
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        name = manager.get_name(error.plugin) or repr(error.plugin)
        unknown = [
            impl.function.__name__
            for caller in manager.get_hookcallers(error.plugin) or ()
            if not caller.has_spec()
            for impl in caller.get_hookimpls()
            if impl.plugin is error.plugin
        ]
        raise PluginError(
            f"plugin {name!r} implements {', '.join(unknown)}, which is not a Cartera hook "
            "(misspelt? see docs/plugins.md)"
        ) from error


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

    Events are sent after the change is committed (`portal.events.emit`), so a
    plugin's failure never undoes it; the log names the plugin so its author
    can be told.
    """
    for _answer in _answers(hook, kwargs):
        pass


def collect_safely(hook: pluggy.HookCaller, **kwargs: object) -> list:
    """`collect`, leaving out (and logging) the answer of a plugin that fails.

    For what decorates a page: a broken plugin costs its own panels, not the page.
    """
    items: list = []
    for answer in _answers(hook, kwargs):
        if answer:
            items.extend(answer)
    return items


def _answers(hook: pluggy.HookCaller, kwargs: dict[str, object]) -> Iterator[object]:
    # pluggy calls the last registered first; keep its order.
    for impl in reversed(hook.get_hookimpls()):
        if impl.wrapper or impl.hookwrapper:
            continue  # wrappers surround a call; here each plugin answers alone
        try:
            answer = impl.function(*(kwargs[name] for name in impl.argnames))
        except Exception:
            logger.exception("plugin %r failed in %s", impl.plugin_name, hook.name)
            continue
        yield answer


@dataclass(frozen=True)
class Installed:
    """One line of Administration → Plugins."""

    name: str
    distribution: str  # "cartera 0.1.0"; empty for a plugin registered by hand
    hooks: tuple[str, ...]
    disabled: bool = False
    unknown: bool = False  # named in CARTERA_DISABLED_PLUGINS, but no such plugin


def installed(manager: PluginManager, settings: Settings) -> list[Installed]:
    """Every plugin loaded, then every one the setting disables, by name."""
    core_version = _version(DISTRIBUTION)
    rows = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None:
            continue  # blocked: listed below with the disabled ones
        origin = manager.origins.get(name)
        if origin is not None:
            distribution = f"{origin.distribution} {origin.version}"
        elif any(plugin is module for module in CORE_PLUGINS):
            distribution = f"{DISTRIBUTION} {core_version}"
        else:
            distribution = ""
        hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(plugin) or ()))
        rows.append(Installed(name, distribution, hooks))
    for name in settings.disabled_plugins:
        origin = manager.origins.get(name)
        if origin is None:
            rows.append(Installed(name, "", (), disabled=True, unknown=True))
        else:
            rows.append(
                Installed(name, f"{origin.distribution} {origin.version}", (), disabled=True)
            )
    return sorted(rows, key=lambda row: (row.disabled, row.name))


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""
