"""The template environment's shortcuts give what Jinja and markupsafe give."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.parse import urlencode

import jinja2
import markupsafe
import pytest
from starlette.testclient import TestClient

from portal import i18n
from portal.config import Settings
from portal.web.labels import label, labels
from portal.web.rendering import build_environment, escape, query_string


class _Shown:
    def __html__(self) -> str:
        return "<b>already safe</b>"


class _Tag(str):
    """A str subclass: markupsafe's own rules apply."""


@pytest.fixture
def env(tmp_path: Path) -> jinja2.Environment:
    return build_environment([], Settings(data_dir=tmp_path, database_url="sqlite://"))


@pytest.mark.parametrize(
    "value",
    ["", "plain", "<script>alert('x') & \"y\"</script>", "María & Hijos <S.L.>", 0, -42,
     10**20, True, None, 1.5, markupsafe.Markup("<i>kept</i>"), _Shown(), _Tag("<t>")],
)  # fmt: skip
def test_escape_answers_what_markupsafe_answers(value: object) -> None:
    ours, theirs = escape(value), markupsafe.escape(value)
    assert ours == theirs
    assert type(ours) is markupsafe.Markup


def test_templates_escape_every_printed_value(env: jinja2.Environment) -> None:
    template = env.from_string(
        "{{ name }}|{{ number }}|{{ safe }}|{{ name|safe }}"
        "|{% set cell %}<td>{{ name }}</td>{% endset %}{{ cell }}"
        "|{% autoescape false %}{{ name }}{% endautoescape %}"
    )
    html = template.render(name="<img src=x onerror=alert(1)>", number=7, safe=_Shown())

    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    assert html.split("|") == [
        escaped,
        "7",
        "<b>already safe</b>",
        "<img src=x onerror=alert(1)>",
        f"<td>{escaped}</td>",
        "<img src=x onerror=alert(1)>",
    ]


def test_template_calls_pass_what_jinja_passes(env: jinja2.Environment) -> None:
    @jinja2.pass_context
    def from_context(context: jinja2.runtime.Context, key: str) -> str:
        return context.get(key, "missing")

    @jinja2.pass_eval_context
    def autoescaping(eval_ctx: jinja2.nodes.EvalContext) -> bool:
        return eval_ctx.autoescape

    @jinja2.pass_environment
    def environment_kind(environment: jinja2.Environment) -> bool:
        return isinstance(environment, jinja2.Environment)

    def exhausted() -> str:
        raise StopIteration

    class Shout:
        def __call__(self, word: str) -> str:
            return word.upper()

    source = (
        "{% set word = 'z' %}{{ from_context('word') }}"
        "{% for item in ['a'] %}{{ from_context('item') }}{% endfor %}"
        "|{{ autoescaping() }}|{{ environment_kind() }}|{{ shout('b') }}"
        "|{{ ', '.join(['c', 'd']) }}|{{ {'e': 1}.items()|list }}|{{ exhausted() is undefined }}"
    )
    values = {
        "from_context": from_context,
        "autoescaping": autoescaping,
        "environment_kind": environment_kind,
        "shout": Shout(),
        "exhausted": exhausted,
    }
    plain = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

    html = env.from_string(source).render(values)

    assert html == plain.from_string(source).render(values)
    assert html == "zmissing|True|True|B|c, d|[(&#39;e&#39;, 1)]|True"


def test_pages_and_static_files_are_compressed(http: TestClient) -> None:
    for path in ("/login", "/static/cartera.css"):
        answer = http.get(path, headers={"accept-encoding": "gzip"})
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in answer.headers["vary"]

    static = Path(__file__).resolve().parents[2] / "static" / "cartera.css"
    with http.stream("GET", "/static/cartera.css", headers={"accept-encoding": "gzip"}) as answer:
        raw = b"".join(answer.iter_raw())
    # Compressed once, by the static files' own middleware: the outer one
    # leaves a response that already has a Content-Encoding alone.
    assert gzip.decompress(raw) == static.read_bytes()


def test_a_compressed_page_reads_as_the_plain_one(http: TestClient) -> None:
    # Pages go through ISA-L's deflate (portal/web/compression.py): any gzip
    # reader must get back the very bytes the page has without compression.
    plain = http.get("/login", headers={"accept-encoding": "identity"})
    with http.stream("GET", "/login", headers={"accept-encoding": "gzip"}) as answer:
        raw = b"".join(answer.iter_raw())

    assert "content-encoding" not in plain.headers
    assert answer.headers["content-encoding"] == "gzip"
    assert int(answer.headers["content-length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "garcía & hijos", "sort": "city"},
        {"after": "WyJh/Ig=="},
        [("tag", "1"), ("tag", "2")],
        {"ids": ["1", "2"]},
    ],
)
def test_remembered_query_strings_read_as_urlencode(params: object) -> None:
    for _twice in range(2):
        assert query_string(params) == urlencode(params)


def test_a_status_name_is_looked_up_in_the_language_and_unknown_codes_show_as_they_are() -> None:
    token = i18n.current_language.set("en")
    try:
        names = labels("status")
        assert (names["lead"], names["customer"]) == ("Lead", "Customer")
        assert names["archived"] == "archived"
        assert names["archived"] == label("archived", "status")
    finally:
        i18n.current_language.reset(token)
