"""One render path: a full page normally, only the named block for htmx."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from jinja2_fragments import render_block
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from portal import i18n
from portal.core.fields import display_phone
from portal.core.permissions import Grants
from portal.web.labels import label

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def build_environment(extra_dirs: list[Path], settings: Any) -> jinja2.Environment:
    # Plugin folders come first so they can override core templates.
    loader = jinja2.FileSystemLoader([*extra_dirs, TEMPLATES])
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(i18n.gettext, _template_ngettext, newstyle=True)
    env.globals["_"] = _template_gettext
    env.filters.update(
        label=label,
        number=i18n.format_number,
        datetime=i18n.format_datetime,
        date=i18n.format_date,
        phone=display_phone,
        money=lambda value: i18n.format_money(value, settings.currency),
    )
    env.globals.update(urlencode=urlencode)
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
