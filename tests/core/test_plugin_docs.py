"""The hook contract stays documented, typed and tested.

Plugin authors read `docs/plugins.md` and rely on each hook's docstring and
types; these checks fail as soon as a hookspec is added, renamed or removed
without the reference, the annotations or a test following it. A hook counts
as tested when some test function under tests/ is named `test_<hook>…`.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from portal import hookspecs

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
TESTS = ROOT / "tests"


def _hookspecs() -> dict[str, Callable]:
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "cartera_spec")
    }


HOOKS = _hookspecs()


@cache
def _documented() -> list[str]:
    """The `### name` headings of the guide's hook reference, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    reference = text.partition("\n## Hook reference\n")[2]
    assert reference, "docs/plugins.md has no '## Hook reference' section"
    reference = re.split(r"\n## ", reference)[0]
    return re.findall(r"^### `?([a-z_]+)`?\s*$", reference, flags=re.MULTILINE)


@cache
def _test_names() -> frozenset[str]:
    """Every test function name under tests/, read with `ast` (nothing imported)."""
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("test_"):
                    names.add(node.name)
    return frozenset(names)


def test_the_contract_has_hooks() -> None:
    # Guards the collection itself: a broken marker check would pass every test below.
    assert {"register_routes", "client_panels", "activity_logged"} <= HOOKS.keys()


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_heading_in_the_guide(name: str) -> None:
    assert name in _documented(), f"docs/plugins.md: add '### {name}' to the hook reference"


def test_every_heading_names_a_hook() -> None:
    documented = _documented()
    unknown = [name for name in documented if name not in HOOKS]
    repeated = sorted({name for name in documented if documented.count(name) > 1})

    assert not unknown, f"headings naming no hookspec: {unknown}"
    assert not repeated, f"hooks documented twice: {repeated}"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_docstring(name: str) -> None:
    docstring = inspect.getdoc(HOOKS[name]) or ""

    assert len(docstring.split()) >= 4, f"hookspec {name} needs a docstring saying when"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_fully_annotated(name: str) -> None:
    function = HOOKS[name]
    # Read without evaluating: the module imports its types for checkers only.
    annotations = function.__annotations__
    arguments = inspect.signature(function).parameters

    assert "return" in annotations, f"hookspec {name} has no return annotation"
    missing = [argument for argument in arguments if argument not in annotations]
    assert not missing, f"hookspec {name}: arguments without a type: {missing}"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_test(name: str) -> None:
    tested = any(test.startswith(f"test_{name}") for test in _test_names())

    assert tested, f"no test function under tests/ is named test_{name}…"


def test_the_skeleton_in_the_guide_takes_a_name_no_example_uses() -> None:
    # Following the guide beside the shipped example must not clash with it.
    text = GUIDE.read_text(encoding="utf-8")
    names = re.findall(r"cartera new-plugin ([a-z_]+)", text)
    examples = {path.name for path in (ROOT / "examples").iterdir()}

    assert names
    assert not [name for name in names if f"cartera-{name}" in examples]
