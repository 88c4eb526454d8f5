"""Streaming readers for task uploads: JSONL and JSON arrays, without holding the whole body.

Both yield (number, value) where number is the JSONL line number or the 1-based position of an element
in the array, and value is the decoded object or a ParseError. A JSON array cannot be resynchronised
after a syntax error, so its reader stops at the first one; the JSONL reader goes on line by line.
Every decoded row is checked against marketplace.json_limits (no lone surrogates, NUL, nesting past
API_JSON_MAX_DEPTH, numbers past 64 bits); a refused row is a ParseError naming the path in the row.
"""

import codecs
import json

from django.conf import settings

from marketplace import json_limits

CHUNK = 1 << 16
_WS = " \t\r\n"


class ParseError:
    __slots__ = ("message", "path")

    def __init__(self, message: str, path: str = ""):
        self.message = message
        self.path = path  # where in the row, when the row was valid JSON but refused ("data.prompt")


def _max_depth() -> int:
    return int(getattr(settings, "API_JSON_MAX_DEPTH", json_limits.DEFAULT_MAX_DEPTH))


def _refused(exc: json_limits.HostileJSON) -> ParseError:
    return ParseError(exc.message, exc.path)


def iter_jsonl(stream, *, max_line_bytes: int, chunk_size: int = CHUNK):
    """Yield (line_no, object | ParseError) for each non-blank line of a JSONL stream."""
    buf = b""
    line_no = 0
    depth = _max_depth()

    def loads(line: bytes):  # orjson (several times faster than json.loads), then the limits
        return json_limits.loads(line, max_depth=depth)
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        buf += chunk
        if b"\n" not in chunk:
            if len(buf) > max_line_bytes:
                yield line_no + 1, ParseError(f"line longer than {max_line_bytes} bytes")
                return
            continue
        lines = buf.split(b"\n")
        buf = lines.pop()
        for line in lines:
            line_no += 1
            if not line.strip():
                continue
            if len(line) > max_line_bytes:
                yield line_no, ParseError(f"line longer than {max_line_bytes} bytes")
                continue
            try:
                yield line_no, loads(line)
            except json_limits.HostileJSON as exc:
                yield line_no, _refused(exc)
        if len(buf) > max_line_bytes:
            yield line_no + 1, ParseError(f"line longer than {max_line_bytes} bytes")
            return
    if buf.strip():
        line_no += 1
        try:
            yield line_no, loads(buf)
        except json_limits.HostileJSON as exc:
            yield line_no, _refused(exc)


def iter_json_array(stream, *, max_line_bytes: int, chunk_size: int = CHUNK):
    """Yield (position, object | ParseError) for each element of a JSON array read incrementally."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    raw_decode = json.JSONDecoder().raw_decode
    depth = _max_depth()
    buf = ""
    pos = 0
    eof = False

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        chunk = stream.read(chunk_size)
        if not chunk:
            eof = True
            buf = buf[pos:] + decoder.decode(b"", final=True)
        else:
            buf = buf[pos:] + decoder.decode(chunk)
        pos = 0
        return True

    def skip_ws() -> bool:
        """Advance past whitespace; False at end of input."""
        nonlocal pos
        while True:
            n = len(buf)
            while pos < n and buf[pos] in _WS:
                pos += 1
            if pos < n:
                return True
            if not more():
                return False

    try:
        if not skip_ws() or buf[pos] != "[":
            yield 0, ParseError("expected a JSON array of tasks (or send JSONL as application/x-ndjson)")
            return
        pos += 1
        number = 0
        if not skip_ws():
            yield 0, ParseError("unterminated JSON array")
            return
        if buf[pos] == "]":
            pos += 1
        else:
            while True:
                number += 1
                while True:
                    try:
                        value, end = raw_decode(buf, pos)
                        break
                    except json.JSONDecodeError as exc:
                        if len(buf) - pos > max_line_bytes or not more():
                            yield number, ParseError(f"not valid JSON: {exc.msg}")
                            return
                    except RecursionError:  # far deeper than any limit: the array cannot be read on
                        yield number, ParseError(f"nested more than {depth} levels deep")
                        return
                pos = end
                try:  # the standard library keeps surrogates, NaN and big integers: the limits refuse them
                    json_limits.check_value(value, max_depth=depth)
                except json_limits.HostileJSON as exc:
                    yield number, _refused(exc)
                else:
                    yield number, value
                if not skip_ws():
                    yield number, ParseError("unterminated JSON array (expected , or ])")
                    return
                if buf[pos] == ",":
                    pos += 1
                    if not skip_ws():
                        yield number + 1, ParseError("unterminated JSON array")
                        return
                    continue
                if buf[pos] == "]":
                    pos += 1
                    break
                yield number, ParseError(f"expected , or ] after element {number}, found {buf[pos]!r}")
                return
        if skip_ws():
            yield number, ParseError("unexpected data after the JSON array")
    except UnicodeDecodeError as exc:
        yield 0, ParseError(f"body is not UTF-8: {exc}")
