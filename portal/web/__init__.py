"""Shared web helpers: sessions, CSRF, rendering, responses."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from portal.text import ID_PATTERN


class IdConvertor(Convertor[int]):
    """Record ids in paths: digits that fit a 64-bit column, anything else is 404."""

    regex = ID_PATTERN

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


# Registered on import, before any route module compiles its paths.
register_url_convertor("id", IdConvertor())
