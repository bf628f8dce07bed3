"""Gin's JSON binding as obshell's handlers see it (spec 3): keys match field names case-insensitively,
unknown keys are ignored, `binding:"required"` on a string means present and non-empty (null is empty)."""

import json
from dataclasses import dataclass

from upgrades.errors import bad_request

_GO_TYPES = {str: "string", bool: "bool", int: "int"}
_JSON_KINDS = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


@dataclass(frozen=True)
class Field:
    key: str  # the JSON name
    go_name: str
    type: type = str
    required: bool = False
    max_length: int | None = None  # gin's `binding:"max=N"` on a string: at most N characters


def bind_failed(detail):
    return bad_request("Common.BindJsonFailed", f"Bind JSON failed: {detail}")


def parse_json(raw):
    if not raw.strip():
        raise bind_failed("EOF")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise bind_failed("invalid character in request body") from None
    except ValueError as exc:
        raise bind_failed(f"invalid character: {exc.msg} at offset {exc.pos}") from None


def bind(raw, struct, fields):
    """The bound values (missing optional ones are None) or Common.BindJsonFailed."""
    document = parse_json(raw)
    if not isinstance(document, dict):
        kind = _JSON_KINDS.get(type(document), "value")
        raise bind_failed(f"json: cannot unmarshal {kind} into Go value of type param.{struct}")
    lowered = {}
    for key, value in document.items():
        lowered[str(key).lower()] = value
    values = {}
    for field in fields:
        value = lowered.get(field.key.lower())
        if value is not None:
            ok = isinstance(value, field.type) and not (field.type is int and isinstance(value, bool))
            if not ok:
                kind = _JSON_KINDS.get(type(value), "value")
                raise bind_failed(
                    f"json: cannot unmarshal {kind} into Go struct field {struct}.{field.key} "
                    f"of type {_GO_TYPES[field.type]}"
                )
        values[field.key] = value
    # Beyond gin: no bound string may carry a NUL character (no version, release, path, mode, operator or reason
    # has one, and PostgreSQL stores none).
    with_nul = [f for f in fields if isinstance(values[f.key], str) and "\x00" in values[f.key]]
    if with_nul:
        raise bind_failed(
            "\n".join(
                f"Key: '{struct}.{f.go_name}' Error:Field validation for '{f.go_name}' failed: NUL character"
                for f in with_nul
            )
        )
    failed = [(f, "required") for f in fields if f.required and values[f.key] in (None, "")]
    failed += [
        (f, "max")
        for f in fields
        if f.max_length is not None and isinstance(values[f.key], str) and len(values[f.key]) > f.max_length
    ]
    if failed:
        raise bind_failed(
            "\n".join(
                f"Key: '{struct}.{f.go_name}' Error:Field validation for '{f.go_name}' failed on the '{tag}' tag"
                for f, tag in failed
            )
        )
    return values
