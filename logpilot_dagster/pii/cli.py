"""`logpilot mask`: personal data and secrets masked from stdin to stdout, line by line, any bytes in."""

from __future__ import annotations

import argparse
import os
import sys
from typing import BinaryIO

from logpilot_dagster.pii.masking import TOKENS, mask

# Bytes that are not UTF-8 decode to lone surrogates and encode back to the same bytes, so a line's
# bytes pass through unchanged except for the personal data in it.
_ERRORS = "surrogateescape"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mask",
        help="mask personal data and secrets (e-mails, IPs, cards, SSNs, phones, tokens, keys, passwords) "
             "in lines from stdin, to stdout",
        description="Read lines from stdin and write them to stdout with personal data and secrets replaced by "
                    f"{', '.join(TOKENS.values())}. For a password or token only the value is replaced; "
                    "keys, URL schemes, users and hosts stay. Bytes that are not UTF-8 pass through unchanged.",
    )
    parser.add_argument("--line-buffered", action="store_true",
                        help="flush after every line (for `tail -f | logpilot mask | ...`)")
    parser.set_defaults(func=_mask)


def mask_bytes(source: BinaryIO, sink: BinaryIO, line_buffered: bool = False) -> int:
    """Mask `source` into `sink` line by line; the number of lines."""
    count = 0
    for raw in source:
        sink.write(mask(raw.decode("utf-8", _ERRORS)).encode("utf-8", _ERRORS))
        count += 1
        if line_buffered:
            sink.flush()
    sink.flush()
    return count


def _mask(args: argparse.Namespace) -> int:
    try:
        mask_bytes(sys.stdin.buffer, sys.stdout.buffer, line_buffered=args.line_buffered)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep the interpreter's final flush from
        # raising again on the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
