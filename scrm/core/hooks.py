"""Hooks: how a lower app lets the apps above it take part without importing them.

A lower app declares a hook (``Hook("name")``) and calls it where the higher apps
may act; a higher app registers a function from its ``AppConfig.ready``. The lower
app never learns who is listening. Calls run in the caller's transaction, in
registration order, with keyword arguments only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Hook:
    def __init__(self, name: str, doc: str = "") -> None:
        self.name = name
        self.__doc__ = doc
        self._functions: list[Callable[..., Any]] = []

    def register(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Add ``function`` (once; registering twice is harmless). Usable as a decorator."""
        if function not in self._functions:
            self._functions.append(function)
        return function

    def call(self, **kwargs: Any) -> list[Any]:
        """Call every registered function; their results, in order."""
        return [function(**kwargs) for function in self._functions]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._functions)} registered>"
