"""Typed parameter schemas: what a plugin accepts, and how values are checked.

Every registered object declares its parameters as a tuple of :class:`Param`. The
app builds its controls from them, the CLI and the API validate values against
them, and plugins receive a plain ``dict`` of already-checked values.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping

from core.errors import UserError

ParamType = Literal["int", "float", "bool", "choice", "str", "color", "colors"]
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
MAX_STR_LENGTH = 2000


@dataclass(frozen=True)
class Param:
    """One parameter of a plugin's call.

    ``type`` decides the control and the check: ``int``/``float`` (with optional
    ``min``/``max``/``step``: a slider when both bounds exist), ``bool`` (checkbox),
    ``choice`` (dropdown over ``choices``), ``str`` (text box, at most
    ``max_length`` characters), ``color`` (one ``#rrggbb``), ``colors`` (a list of
    ``#rrggbb``, typed comma-separated).
    """

    name: str
    type: ParamType
    default: Any
    label: str = ""
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = field(default_factory=tuple)
    max_length: int = MAX_STR_LENGTH

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"parameter name {self.name!r} is not an identifier")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name!r} has no choices")
        # The default must itself be valid: a schema that contradicts itself is a bug.
        self.validate(self.default)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to this parameter's type, or raise UserError."""
        where = f"parameter '{self.name}'"
        if self.type in ("int", "float"):
            number = _to_number(value, where)
            if self.type == "int":
                if number != int(number):
                    raise UserError(f"{where} must be a whole number, got {value!r}")
                number = int(number)
            if self.min is not None and number < self.min:
                raise UserError(f"{where} must be at least {self.min:g}, got {number:g}")
            if self.max is not None and number > self.max:
                raise UserError(f"{where} must be at most {self.max:g}, got {number:g}")
            return number
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise UserError(f"{where} must be true or false, got {value!r}")
        if self.type == "choice":
            for choice in self.choices:
                if value == choice or str(value) == str(choice):
                    return choice
            options = ", ".join(str(c) for c in self.choices)
            raise UserError(f"{where} must be one of: {options}; got {value!r}")
        if self.type == "str":
            if not isinstance(value, str):
                raise UserError(f"{where} must be text, got {type(value).__name__}")
            if len(value) > self.max_length:
                raise UserError(f"{where} is {len(value)} characters; the limit is {self.max_length}")
            check_unicode(value, where)
            return value
        if self.type == "color":
            return parse_hex_color(value, where)
        if self.type == "colors":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)):
                raise UserError(f"{where} must be a list of #rrggbb colours")
            colors = [parse_hex_color(item, where) for item in items if str(item).strip()]
            if not colors and self.default:
                raise UserError(f"{where} needs at least one colour")
            if len(colors) > 64:
                raise UserError(f"{where} takes at most 64 colours, got {len(colors)}")
            return colors
        raise ValueError(f"unknown parameter type {self.type!r}")  # pragma: no cover

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default,
                                "label": self.title}
        for key in ("help", "min", "max", "step"):
            if getattr(self, key) not in (None, ""):
                data[key] = getattr(self, key)
        if self.choices:
            data["choices"] = list(self.choices)
        return data


def _to_number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise UserError(f"{where} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise UserError(f"{where} must be a finite number, got {value!r}")
    return number


def parse_hex_color(value: Any, where: str = "colour") -> str:
    """'#E53935', 'e53935' or '#e53' -> '#e53935'; anything else is a UserError."""
    text = str(value).strip()
    match = _HEX.match(text)
    if not match:
        raise UserError(f"{where}: {text[:40]!r} is not a #rrggbb colour")
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    digits = parse_hex_color(color)[1:]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def check_unicode(text: str, where: str) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate from raw JSON): it
    could not be written to a PNG chunk or sent back as JSON."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{where} is not valid Unicode text") from None


def validate_params(schema: Iterable[Param], values: Mapping[str, Any] | None,
                    owner: str = "") -> dict[str, Any]:
    """Check ``values`` against ``schema``; missing values take their defaults.

    Unknown keys are an error (a typo should not be silently ignored).
    """
    prefix = f"{owner}: " if owner else ""
    if values is not None and not isinstance(values, Mapping):
        raise UserError(f"{prefix}params must be a JSON object such as {{\"size\": 64}}, "
                        f"got {type(values).__name__}")
    values = dict(values or {})
    checked: dict[str, Any] = {}
    for param in schema:
        checked[param.name] = param.validate(values.pop(param.name)) if param.name in values \
            else param.default
    if values:
        known = ", ".join(p.name for p in schema) or "none"
        raise UserError(f"{prefix}unknown parameter(s) {', '.join(sorted(values))}; known: {known}")
    return checked
