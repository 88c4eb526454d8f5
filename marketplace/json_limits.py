"""What a JSON document may hold here, and one parse that enforces it (no Django, no DRF: the API's parser,
the task-upload readers and the services share it).

Valid JSON that no part of the system can keep or hand back is refused where it enters, naming the path:
- lone UTF-16 surrogates ("\\ud800"): Python keeps them in a str, but they cannot be encoded as UTF-8, so
  PostgreSQL refuses them and every later JSON or CSV rendering of the row fails;
- NUL characters (in strings or keys): PostgreSQL text and jsonb cannot hold them;
- nesting deeper than JSON_MAX_DEPTH (64 unless the setting says otherwise): Python's json recursion,
  and a decoder's stack, are finite; nothing we accept is nested more than a few levels;
- numbers outside the signed 64-bit range (-2**63 .. 2**63-1), and NaN or Infinity: database integer
  columns and orjson stop there (orjson even turns a larger integer into a float, silently).

Paths are dotted, as in the validation errors of tasks.label_schemas: "answer.reason", "data.responses.3".
"""

from __future__ import annotations

import json
import math

import orjson

DEFAULT_MAX_DEPTH = 64
INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
_FLOAT_LIMIT = float(1 << 63)
NUL = "\x00"


class HostileJSON(ValueError):
    """Valid or invalid JSON this system will not take: `path` says where ("" = the whole document)."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.message = message
        self.path = path


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def has_lone_surrogate(text: str) -> bool:
    """True when the text holds a lone UTF-16 surrogate, which UTF-8 (and so PostgreSQL) cannot store."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _string_fault(text: str, check_surrogates: bool) -> str | None:
    if NUL in text:
        return "NUL characters are not allowed"
    if check_surrogates and has_lone_surrogate(text):
        return "lone UTF-16 surrogate (e.g. \\ud800) is not allowed: send valid Unicode"
    return None


def check_value(value, *, max_depth: int = DEFAULT_MAX_DEPTH, path: str = "",
                check_surrogates: bool = True) -> None:
    """Raise HostileJSON at the first thing in a decoded JSON value this system refuses (see the module).

    Iterative, so any depth is walked without recursion. The usual case (nothing refused) is one quick
    pass that builds no paths; only a refused value is walked again to name where. orjson never yields
    a surrogate, so its callers may pass check_surrogates=False."""
    if not _has_fault(value, max_depth, check_surrogates):
        return
    _raise_at_fault(value, max_depth=max_depth, path=path, check_surrogates=check_surrogates)


def _has_fault(value, max_depth: int, check_surrogates: bool) -> bool:
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        kind = type(node)
        if kind is str:
            if NUL in node or (check_surrogates and has_lone_surrogate(node)):
                return True
        elif kind is int:
            if not INT_MIN <= node <= INT_MAX:
                return True
        elif kind is float:
            if not -_FLOAT_LIMIT < node < _FLOAT_LIMIT:  # NaN fails every comparison
                return True
        elif kind is dict or kind is list or isinstance(node, dict | list):
            if depth > max_depth:
                return True
            if isinstance(node, dict):
                for key, item in node.items():
                    if isinstance(key, str) and (NUL in key or (check_surrogates and has_lone_surrogate(key))):
                        return True
                    push((item, depth + 1))
            else:
                for item in node:
                    push((item, depth + 1))
        elif isinstance(node, str | int | float) and not isinstance(node, bool):  # subclasses: the slow walk
            return True
    return False


def _raise_at_fault(value, *, max_depth: int, path: str, check_surrogates: bool) -> None:
    stack = [(value, path, 1)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            fault = _string_fault(node, check_surrogates)
            if fault:
                raise HostileJSON(fault, where)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if not INT_MIN <= node <= INT_MAX:
                raise HostileJSON("integer out of range: numbers must fit in a signed 64-bit integer "
                                  "(-9223372036854775808 to 9223372036854775807)", where)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise HostileJSON("NaN and Infinity are not JSON numbers (nor is a number too large for a double)",
                                  where)
            if abs(node) >= _FLOAT_LIMIT:
                raise HostileJSON("number out of range: numbers must be within the signed 64-bit integer range",
                                  where)
        elif isinstance(node, dict | list):
            if depth > max_depth:
                raise HostileJSON(f"nested more than {max_depth} levels deep", where)
            if isinstance(node, dict):
                for key, item in node.items():
                    if isinstance(key, str):
                        fault = _string_fault(key, check_surrogates)
                        if fault:  # the key cannot be named in a path: the object holding it is
                            raise HostileJSON(f"a key: {fault}", where)
                    stack.append((item, _join(where, key), depth + 1))
            else:
                stack.extend((item, _join(where, i), depth + 1) for i, item in enumerate(node))


# A cheap look at the raw text, in C (bytes.count, translate, `in`), that rules out every refused thing
# orjson lets through: no \u0000 escape (NUL), fewer brackets than the depth limit, no run of 19 digits
# and no exponent (so every number fits in 64 bits). Text that fails it (rarely) is walked.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def _plainly_within_limits(data: bytes, max_depth: int) -> bool:
    if b"\\u0000" in data or data.count(b"{") + data.count(b"[") > max_depth:
        return False
    digits = data.translate(_DIGITS_AS_ZERO)
    return _NINETEEN_DIGITS not in digits and b"0e" not in digits and b"0E" not in digits


def _position(message: str) -> str:
    """orjson's messages end with 'line L column C (char N)'; keep that part as the place."""
    head, sep, tail = message.rpartition(": line ")
    return f"line {tail}" if sep else ""


def loads(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH, path: str = ""):
    """Decode one JSON document and check it (check_value). Raises HostileJSON (with a path when the
    document is valid JSON, with a line/column otherwise) for anything refused or unparseable.

    orjson first (fast, and it already refuses surrogates, NaN and nesting past 1024); only when it
    refuses does the standard library decode the document again, to name the path of a surrogate."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "recursion" in message:
            raise HostileJSON(f"nested more than {max_depth} levels deep ({_position(message)})", path) from None
        value = _stdlib_loads(data, message, path)
        check_value(value, max_depth=max_depth, path=path, check_surrogates=True)
        raise HostileJSON(f"not valid JSON: {message}", path) from None  # orjson's refusal, not found again
    if not (isinstance(data, bytes) and _plainly_within_limits(data, max_depth)):
        check_value(value, max_depth=max_depth, path=path, check_surrogates=False)
    return value


def _stdlib_loads(data: bytes | str, orjson_message: str, path: str):
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HostileJSON(f"body is not UTF-8: {exc}", path) from None
    try:
        return json.loads(data)  # NaN and Infinity decode here, so that check_value names their path
    except json.JSONDecodeError as exc:
        raise HostileJSON(f"not valid JSON: {exc}", path) from None
    except RecursionError:
        raise HostileJSON("nested too deep", path) from None
