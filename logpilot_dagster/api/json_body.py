"""Reading a JSON request body that a client may have built to hurt: depth is bounded before parsing.

Python's parser recurses once per nesting level, so `[[[[...]]]]` a thousand deep raises RecursionError
(and deeper still can exhaust a worker thread's stack). The depth is measured first on the raw bytes,
strings blanked out, with array operations that take time linear in the size of the body.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import numpy as np

MAX_DEPTH = 16  # the request needs 3 ({"items": [{...}]}); the rest is slack for clients that wrap things

# A JSON string, escapes included; the closing quote is optional so an unterminated string still ends the
# match (at the end of the body) instead of being retried from every later quote.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = np.frombuffer(b"[{", dtype=np.uint8)


class JsonBodyError(ValueError):
    """A body that is not acceptable JSON; the message says why."""


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in `body` (counting unclosed ones), ignoring brackets in strings."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where(np.isin(codes, _OPENING), 1, -1)
    return max(int(np.cumsum(steps).max()), 0)


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body; JsonBodyError for anything that is not UTF-8 JSON within the depth bound."""
    depth = json_depth(body)
    if depth > max_depth:
        raise JsonBodyError(f"the JSON nests {depth:,} levels deep; at most {max_depth} are accepted "
                            '(the request is {"items": [{"source": ..., "log_message": ...}]})')
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise JsonBodyError(f"the body is not valid UTF-8 JSON: undecodable byte at position {err.start}") from err
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except JsonBodyError:
        raise
    except json.JSONDecodeError as err:
        raise JsonBodyError(f"the body is not valid UTF-8 JSON: {err}") from err
    except ValueError as err:  # an integer past Python's digit limit for conversions
        raise JsonBodyError(f"the body is not valid UTF-8 JSON: a number has more than the "
                            f"{sys.get_int_max_str_digits():,} digits accepted") from err
    except RecursionError as err:  # the depth bound should make this unreachable; still a client's fault
        raise JsonBodyError("the JSON nests too deep") from err


def _refuse_constant(name: str) -> Any:
    raise JsonBodyError(f"the body is not valid UTF-8 JSON: {name} is not a JSON value")
