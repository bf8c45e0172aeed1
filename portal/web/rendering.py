"""One render path: a full page normally, only the named block for htmx."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache, partial
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any
from urllib.parse import urlencode

import jinja2
import markupsafe
from jinja2.runtime import Context
from jinja2.utils import _PassArg
from jinja2_fragments import render_block
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from portal import i18n
from portal.assets import asset_folder
from portal.core.fields import display_phone
from portal.core.permissions import Grants
from portal.web.labels import label, labels

TEMPLATES = asset_folder("templates")


# markupsafe's C escaper; `escape` wraps it in a Markup built in Python.
_escape_text = markupsafe._escape_inner
_new_markup = partial(str.__new__, Markup)


def escape(value: object) -> Markup:
    """What markupsafe's `escape` returns, in a third of the time for text and ids.

    A list row prints half a dozen values; at 50 rows a page that is hundreds of
    calls, and markupsafe spends most of each in `Markup.__new__`, a Python
    method that checks again for `__html__`.
    """
    kind = type(value)
    if kind is str:
        return _new_markup(_escape_text(value))
    if kind is int:  # digits and a minus sign: nothing to escape
        return _new_markup(str(value))
    if kind is Markup:
        return value
    return markupsafe.escape(value)


class _Template(jinja2.Template):
    """Jinja's template, whose compiled code escapes with `escape` above."""

    @classmethod
    def _from_namespace(
        cls, environment: jinja2.Environment, namespace: dict, globals: dict
    ) -> jinja2.Template:
        # The compiled module imports markupsafe's escape among its globals, and
        # every `{{ value }}` looks the name up there as the template runs.
        namespace["escape"] = escape
        return super()._from_namespace(environment, namespace, globals)


_ROUTINES = (FunctionType, MethodType, BuiltinFunctionType)


class _Context(Context):
    """Jinja's context, with a shorter way to call plain functions and methods."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # Jinja's `call` asks every callee twice whether it takes the context
        # first; a list page makes some sixty calls (`_`, `grants.has`,
        # `urlencode`...). Objects with a `__call__` of their own and functions
        # that take the context still go the long way.
        if type(__obj) not in _ROUTINES:
            return super().call(__obj, *args, **kwargs)
        takes = getattr(__obj, "jinja_pass_arg", None)
        if takes is _PassArg.context:
            return super().call(__obj, *args, **kwargs)
        if takes is _PassArg.eval_context:
            args = (__self.eval_ctx, *args)
        elif takes is _PassArg.environment:
            args = (__self.environment, *args)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined("a callable raised StopIteration")


class _Environment(jinja2.Environment):
    template_class = _Template
    context_class = _Context


# The name under which the core's own templates stay reachable when a plugin
# overrides one: its `clients/detail.html` may `{% extends "core/clients/detail.html" %}`.
CORE_PREFIX = "core"


def build_environment(extra_dirs: list[Path], settings: Any) -> jinja2.Environment:
    # Plugin folders come first so they can override core templates.
    loader = jinja2.ChoiceLoader(
        [
            jinja2.PrefixLoader({CORE_PREFIX: jinja2.FileSystemLoader(TEMPLATES)}),
            jinja2.FileSystemLoader([*extra_dirs, TEMPLATES]),
        ]
    )
    env = _Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        # Templates ship with the code and change only with a restart; checking
        # each file's mtime cost three stat calls a page (page, layout, macros).
        auto_reload=False,
    )
    _constant_markup.cache_clear()  # the catalogues may hold plugins' texts now
    env.install_gettext_callables(i18n.gettext, _template_ngettext, newstyle=True)
    env.globals["_"] = _template_gettext
    env.filters.update(
        # Context-bound so that Jinja never folds `""|label(...)` into the template
        # at compile time, in the language of whoever loaded the page first.
        label=jinja2.pass_context(lambda _context, code, group: label(code, group)),
        number=i18n.format_number,
        percent=i18n.format_percent,
        datetime=i18n.format_datetime,
        date=i18n.format_date,
        phone=display_phone,
        money=lambda value: i18n.format_money(value, settings.currency),
    )
    env.globals.update(urlencode=query_string, labels=labels)
    return env


@jinja2.pass_eval_context
def _template_gettext(eval_ctx: jinja2.nodes.EvalContext, message: str, **values: object) -> str:
    # What the i18n extension's `_` does (translate, mark safe, %-format with the
    # values escaped) in one call where it takes three; a page makes dozens.
    language = i18n.current_language.get()
    if not eval_ctx.autoescape:
        return i18n.translations(language).gettext(message) % values
    if not values:
        return _constant_markup(language, message)
    return Markup(i18n.translations(language).gettext(message)) % values


@lru_cache(maxsize=4096)
def _constant_markup(language: str, message: str) -> Markup:
    # A text without values reads the same on every page: the catalogues are
    # compiled once per process. Templates translate only texts from the code.
    return Markup(i18n.translations(language).gettext(message)) % {}


def query_string(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """What `urlencode` gives, remembered: a list page writes the same queries again.

    The client list links its sorts, exports and pages: six encodings a page,
    each a dozen Python calls per parameter. The answer depends on nothing
    but the parameters.
    """
    items = tuple(params.items()) if isinstance(params, Mapping) else tuple(params)
    try:
        return _query_string(items)
    except TypeError:  # an unhashable value, such as a list
        return urlencode(items)


@lru_cache(maxsize=1024)
def _query_string(items: tuple[tuple[str, object], ...]) -> str:
    return urlencode(items)


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    # Jinja fills in the placeholders itself, with the template's `num=` (often
    # already formatted); i18n.ngettext would fill them first with the bare n.
    catalogue = i18n.translations(i18n.current_language.get())
    return catalogue.ngettext(singular, plural, n)


def is_fragment_request(request: Request) -> bool:
    headers = request.headers
    # A boosted link or form replaces the whole body, so it needs the full page.
    return (
        "hx-request" in headers
        and "hx-boosted" not in headers
        and "hx-history-restore-request" not in headers
    )


def grants_of(request: Request) -> Grants:
    """What the current user may open and do, built once per request."""
    grants = getattr(request.state, "grants", None)
    if grants is None:
        grants = request.state.grants = Grants.of(request.state.user)
    return grants


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page, or just `block` of it when htmx asks for a fragment."""
    env: jinja2.Environment = request.app.state.templates
    values = {
        "request": request,
        "user": request.state.user,
        "csrf_token": request.state.csrf_token,
        "language": i18n.current_language.get(),
        "url": request.app.url_path_for,
        "menu": request.app.state.menu_for(request.state.user, grants_of(request)),
        "grants": grants_of(request),
        **(context or {}),
    }
    if block and is_fragment_request(request):
        html = render_block(env, template, block, values)
    else:
        html = env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["vary"] = "HX-Request"
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go to after login, or `default`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n\t\\") or "://" in target.split("?")[0]:
        return default
    return target


def see_other(url: str) -> RedirectResponse:
    """The answer to a successful full-page POST."""
    return RedirectResponse(url, status_code=303)
