"""Events: plugins hear of a change once it is committed, never of one rolled back.

The core calls `emit("client_created", client_id=…, actor_id=…)` where it makes
the change, usually inside its transaction. The plugins' handlers run after
the outermost transaction commits (peewee's `after_commit`), right away when
no transaction is open, and never when it, or the savepoint the change was
made in, rolls back (`portal.database._Savepoint`). Each handler is isolated
the way `portal.plugins.notify` isolates it: a failure is logged with the
plugin's name and the change stays.
"""

from __future__ import annotations

import logging
from functools import partial

import pluggy

from portal.database import db
from portal.plugins import notify

logger = logging.getLogger(__name__)

# The manager of the running portal, worker or command (see `use`).
_manager: pluggy.PluginManager | None = None


def use(manager: pluggy.PluginManager) -> None:
    """Send the events of this process to `manager`'s plugins."""
    global _manager
    _manager = manager


def manager() -> pluggy.PluginManager | None:
    """The manager `use` was given: the plugins of this process, once loaded."""
    return _manager


def emit(hook_name: str, **kwargs: object) -> None:
    """Tell the plugins of a change once it is committed (see the module's docstring)."""
    if _manager is None:
        logger.debug("no plugin manager yet: %s not sent", hook_name)
        return
    hook = getattr(_manager.hook, hook_name)
    db.after_commit(partial(notify, hook, **kwargs))
