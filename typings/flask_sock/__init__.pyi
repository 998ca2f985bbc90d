# The part of flask-sock 0.7 the emulator uses (emulator/mercury/routes.py); it ships no types.
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Flask

class Sock:
    def __init__(self, app: Flask | None = None) -> None: ...
    def init_app(self, app: Flask) -> None: ...
    def route(
        self, path: str, bp: Blueprint | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...
