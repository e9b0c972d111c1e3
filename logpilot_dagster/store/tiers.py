"""Where the warm and cold tiers keep their Parquet files: a local folder or an object store.

A tier file is named by a local path or a URL (`s3://bucket/prefix/...`); pyarrow's filesystems read and write
both. Object-store endpoints and credentials come from the standard AWS variables (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, ...), so any S3-compatible server works.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def is_url(location: str) -> bool:
    return "://" in location


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding `location` and the path inside it."""
    if is_url(location):
        return pafs.FileSystem.from_uri(location)
    return pafs.LocalFileSystem(), str(Path(location).resolve())


def join(location: str, *parts: str) -> str:
    return "/".join([location.rstrip("/"), *parts]) if is_url(location) else str(Path(location, *parts))


def read_table(location: str) -> pa.Table:
    fs, path = filesystem(location)
    return pq.read_table(path, filesystem=fs)


def write_table(table: pa.Table, location: str) -> int:
    """Write whole, durably (fsync on a local disk), then rename into place; returns the size in bytes."""
    return replace_with(write_beside(table, location), location)


def write_beside(table: pa.Table, location: str) -> str:
    """Write `table` whole and durably next to `location`, not in its place yet (`replace_with` puts it there)."""
    fs, path = filesystem(location)
    if isinstance(fs, pafs.LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path + ".tmp", compression="zstd")
        fsync(Path(path + ".tmp"))
    else:
        pq.write_table(table, path + ".tmp", filesystem=fs, compression="zstd")
    return location + ".tmp"


def replace_with(written: str, location: str) -> int:
    """`written` (from `write_beside`) renamed into `location`'s place; the size in bytes."""
    move(written, location)
    return size(location)


def rows_in(location: str) -> int:
    fs, path = filesystem(location)
    with fs.open_input_file(path) as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def size(location: str) -> int:
    fs, path = filesystem(location)
    return fs.get_file_info(path).size or 0


def exists(location: str) -> bool:
    fs, path = filesystem(location)
    return fs.get_file_info(path).type == pafs.FileType.File


def move(source: str, target: str) -> None:
    fs, src = filesystem(source)
    _, dst = filesystem(target)
    if isinstance(fs, pafs.LocalFileSystem):
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        fsync(Path(dst).parent)
    else:
        fs.move(src, dst)


def delete(location: str) -> None:
    fs, path = filesystem(location)
    if fs.get_file_info(path).type == pafs.FileType.File:
        fs.delete_file(path)


def fsync(path: Path) -> None:
    """Flush a file or a folder's entries to disk: a rename is durable only once its folder is synced."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
