from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import Field
from wtforms import Form

class FlaskForm(Form):
    def __init__(self, formdata: MultiDict[str, Any] | None = ..., **kwargs: Any) -> None: ...
    def is_submitted(self) -> bool: ...
    def validate_on_submit(
        self,
        extra_validators: dict[str, Sequence[Callable[[Form, Field], object]]] | None = None,
    ) -> bool: ...
    def hidden_tag(self, *fields: str | Field) -> Markup: ...
