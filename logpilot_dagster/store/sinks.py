"""Every place a line's content is copied to, in one registry: what a right-to-be-forgotten purge walks.

A subject (a user name, a customer id, an account) matches as a whole word: `bob` matches `user bob logged`
and `bob@x`, not `bobby`. Each sink can count the copies of a subject (`find`) and remove them (`delete`,
idempotent; a file is rewritten whole and swapped in by rename). A new copy of line content anywhere under
the home — a tier, an index, a report — gets a sink here, or the purge cannot reach it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logpilot_dagster.store import purged, tables, tiers
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import Busy, file_lock

if TYPE_CHECKING:  # for annotations only: the cache and its format belong to the classifier
    from logpilot_dagster.classify.vector_files import VectorFile


def subject_pattern(subject: str) -> str:
    """A whole-word regex for the subject, in the RE2 dialect both DuckDB and Python read."""
    if not subject.strip():
        raise ValueError("a purge subject must not be empty")
    return r"(^|[^\w])" + re.escape(subject) + r"([^\w]|$)"


class SinkStopped(Busy):
    """A sink stopped part-way by a store another process held: `done` of its rows were deleted before."""

    def __init__(self, busy: Busy, done: int) -> None:
        super().__init__(str(busy))
        self.done = done


@dataclass
class Purging:
    """What a purge run gives the sinks: its request, the key of the rows they add to `purged_lines`, and where
    the sinks of Parquet copies a load reads report the lines they removed, per landing file (the purge counts
    those of files no load has accounted for yet in its audit)."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    copies: Counter = field(default_factory=Counter)
    # Called with the rows removed after each copy is rewritten: the purge saves its progress, so a kill in a
    # sink of many files loses none of the files done.
    saved: Callable[[int], None] = lambda rows: None


@dataclass(frozen=True)
class Sink:
    name: str
    holds: str  # what content of a line it keeps, for people
    find: Callable[[HomeLayout, str], int]
    remove: Callable[[HomeLayout, str, Purging], int]

    def delete(self, layout: HomeLayout, subject: str, purging: Purging | None = None) -> int:
        """Copies removed (idempotent); rows a load or the conservation check counts are recorded (`purged`)."""
        return self.remove(layout, subject, purging or Purging())


# --- DuckDB tables --------------------------------------------------------------------------------------

_LOGS_MATCH = ("regexp_matches(message, $p) OR list_bool_or([regexp_matches(x, $p) for x in coalesce(params, [])])"
               " OR list_bool_or([regexp_matches(x, $p) for x in map_values(coalesce(kv, MAP {}))])")
_QUARANTINE_MATCH = ("regexp_matches(coalesce(detail, ''), $p) OR "
                     "regexp_matches(decode(from_base64(coalesce(raw_b64, '')), 'replace'), $p)")


def _with_warehouse(layout: HomeLayout, work: Callable[[duckdb.DuckDBPyConnection], int]) -> int:
    if not layout.duckdb.exists():
        return 0
    with tables.connect(layout.duckdb) as con:  # a live writer holds the file for a batch at most
        return work(con)


def _table_sink(table: str, where: str) -> tuple[Callable, Callable]:
    def find(layout: HomeLayout, subject: str) -> int:
        return _with_warehouse(layout, lambda con: int(con.execute(
            f"SELECT count(*) FROM {table} WHERE {where}", {"p": subject_pattern(subject)}).fetchone()[0]))

    def delete(layout: HomeLayout, subject: str, purging: Purging) -> int:
        def work(con):
            with tables.transaction(con):
                removed = con.execute(f"DELETE FROM {table} WHERE {where} RETURNING partition_key, n_lines",
                                      {"p": subject_pattern(subject)}).fetchall()
                if removed:
                    tables.record_purged(con, purging.request_id, table, pa.table(
                        {"partition_key": pa.array([key for key, _ in removed], pa.string()),
                         "n_lines": pa.array([n for _, n in removed], pa.int64())}))
            return len(removed)
        return _with_warehouse(layout, work)

    return find, delete


def _find_examples(layout: HomeLayout, subject: str) -> int:
    return _with_warehouse(layout, lambda con: int(con.execute(
        "SELECT count(*) FROM templates WHERE regexp_matches(coalesce(example, ''), $p)",
        {"p": subject_pattern(subject)}).fetchone()[0]))


def _clear_examples(layout: HomeLayout, subject: str, _: Purging | None = None) -> int:
    """Template examples are cleared; the next `templates` refresh draws them again from remaining lines."""
    def work(con):
        with tables.transaction(con):
            (n,), = con.execute("UPDATE templates SET example = NULL WHERE regexp_matches(coalesce(example, ''), $p)",
                                {"p": subject_pattern(subject)}).fetchall()
        return int(n)
    return _with_warehouse(layout, work)


# --- files ----------------------------------------------------------------------------------------------


def _parquet_files(folder_of: Callable[[HomeLayout], Path]) -> Callable[[HomeLayout], Iterator[Path]]:
    def files(layout: HomeLayout) -> Iterator[Path]:
        folder = folder_of(layout)
        yield from sorted(folder.rglob("*.parquet")) if folder.is_dir() else ()
    return files


# Columns that say where a row came from, not what it says: a subject in a file name or a source name is not
# the subject's data (the warehouse's sinks do not match them either, so copies and tables stay alike).
_PROVENANCE = frozenset({"partition_key", "origin", "source", "component", "log_id", "template_id", "ingest_mode",
                         "level"})


def _rows_matching(table: pa.Table, pattern: str) -> pa.ChunkedArray | None:
    """A boolean mask of the rows whose content columns (strings, lists and maps of strings) hold the subject."""
    mask = None
    for name in table.column_names:
        if name in _PROVENANCE:
            continue
        column = table.column(name)
        kind = column.type
        if pa.types.is_list(kind) or pa.types.is_map(kind):
            if pa.types.is_map(kind):  # key-values: the subject is a value
                column = pa.chunked_array([c.cast(pa.list_(pa.struct([("key", kind.key_type),
                                                                       ("value", kind.item_type)])))
                                           for c in column.chunks], pa.list_(pa.struct(
                                               [("key", kind.key_type), ("value", kind.item_type)])))
                flat = pc.struct_field(pc.list_flatten(column), [1])
            else:
                flat = pc.list_flatten(column)
            if not pa.types.is_string(flat.type):
                continue
            hit = pc.match_substring_regex(flat, pattern)
            parents = pc.list_parent_indices(column)
            rows = np.zeros(table.num_rows, dtype=bool)
            rows[np.asarray(parents)[np.asarray(hit.fill_null(False))]] = True
            matched = pa.chunked_array([pa.array(rows)])
        elif name == "raw_b64":  # quarantined bytes are stored base64-encoded
            regex = re.compile(pattern.encode())
            matched = pa.chunked_array([pa.array(
                [bool(v) and regex.search(base64.b64decode(v)) is not None for v in column.to_pylist()],
                pa.bool_())])
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            matched = pc.fill_null(pc.match_substring_regex(column, pattern), False)
        else:
            continue
        mask = matched if mask is None else pc.or_(mask, matched)
    return mask


def _parquet_sink(files: Callable[[HomeLayout], Iterator[Path]],
                  folder_of: Callable[[HomeLayout], Path] | None = None) -> tuple[Callable, Callable]:
    """Parquet files rewritten without the subject's rows. Files of a landing file a load reads (`folder_of`
    given: staged records, quarantined lines) carry what was removed in their metadata (`store.purged`), and
    report it per landing file (`Purging.copies`)."""
    def find(layout: HomeLayout, subject: str) -> int:
        pattern, n = subject_pattern(subject), 0
        for path in files(layout):
            mask = _rows_matching(pq.read_table(path), pattern)
            n += int(pc.sum(mask).as_py() or 0) if mask is not None else 0
        return n

    def delete(layout: HomeLayout, subject: str, purging: Purging) -> int:
        pattern, n = subject_pattern(subject), 0
        for path in files(layout):
            table = pq.read_table(path)
            mask = _rows_matching(table, pattern)
            hits = int(pc.sum(mask).as_py() or 0) if mask is not None else 0
            if hits:
                kept = table.filter(pc.invert(mask))
                if "n_lines" in table.column_names:
                    lines = int(pc.sum(table.filter(mask).column("n_lines")).as_py() or 0)
                    kept = purged.with_removed(kept, purging.request_id, hits, lines)
                    if folder_of is not None:
                        purging.copies[path.relative_to(folder_of(layout)).as_posix()[: -len(".parquet")]] += lines
                tmp = path.with_name(path.name + ".tmp")
                pq.write_table(kept, tmp, compression="zstd")
                tmp.replace(path)
                n += hits
                purging.saved(hits)
        return n

    return find, delete


def _tier_sink(tier: str) -> tuple[Callable, Callable]:
    """Warm and cold Parquet files (local or on an object store), as `tier_files` lists them: a file that holds
    the subject is rewritten without those rows and swapped in whole; its catalog entry follows."""
    def files(layout: HomeLayout) -> list[tuple]:
        if not layout.duckdb.exists():
            return []
        with tables.connect(layout.duckdb, read_only=True) as con:
            return tables.tier_files(con, tier)

    def find(layout: HomeLayout, subject: str) -> int:
        pattern = subject_pattern(subject)
        total = 0
        for path, *_ in files(layout):
            mask = _rows_matching(tiers.read_table(path), pattern)
            total += int(pc.sum(mask).as_py() or 0) if mask is not None else 0
        return total

    def delete(layout: HomeLayout, subject: str, purging: Purging) -> int:
        """Rows deleted; a file an earlier purge rewrote but whose catalog entry it could not update (stopped
        part-way, or killed) has its entry brought up to date, and the rows that run removed are counted here."""
        pattern, total = subject_pattern(subject), 0
        for path, _source, _low, _high, cataloged, cataloged_lines, _ in files(layout):
            table = tiers.read_table(path)
            mask = _rows_matching(table, pattern)
            hits = int(pc.sum(mask).as_py() or 0) if mask is not None else 0
            if not hits and table.num_rows == cataloged:
                continue
            kept = table.filter(pc.invert(mask)) if hits else table
            lines = int(pc.sum(kept.column("n_lines")).as_py() or 0)
            removed = table.filter(mask) if hits else None
            # Removed by a run whose catalog update never came: what the catalog has and the file no longer.
            earlier_rows = cataloged - table.num_rows
            earlier_lines = cataloged_lines - int(pc.sum(table.column("n_lines")).as_py() or 0)

            def record(con, removed=removed, earlier_rows=earlier_rows, earlier_lines=earlier_lines) -> None:
                if removed is not None:
                    tables.record_purged(con, purging.request_id, tier, removed)
                if earlier_rows:
                    tables.record_purged_unknown(con, purging.request_id, tier, earlier_rows, earlier_lines)

            # Written beside the file first, then swapped in with the catalog's connection held: a held warehouse
            # stops the sink before the file changes, not between the file and its entry, and a live batch never
            # waits for the file's write.
            written = tiers.write_beside(kept, path) if hits else None
            try:
                with tables.connect(layout.duckdb) as con:
                    size = tiers.replace_with(written, path) if written else tiers.size(path)
                    tables.update_tier_file(con, path, kept.num_rows, lines, size, record)
            except Busy as busy:
                if written:
                    tiers.delete(written)
                raise SinkStopped(busy, total) from busy
            total += cataloged - kept.num_rows
        return total

    return find, delete


def _text_file_sink(path_of: Callable[[HomeLayout], list[Path]]) -> tuple[Callable, Callable]:
    """JSON and CSV files: the subject is replaced in a JSON document; a CSV row that holds it is dropped."""
    def find(layout: HomeLayout, subject: str) -> int:
        pattern = re.compile(subject_pattern(subject))
        return sum(len(pattern.findall(p.read_text(encoding="utf-8", errors="replace")))
                   for p in path_of(layout) if p.is_file())

    def delete(layout: HomeLayout, subject: str, _: Purging | None = None) -> int:
        pattern, n = re.compile(subject_pattern(subject)), 0
        for path in path_of(layout):
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if not pattern.search(text):
                continue
            if path.suffix == ".csv":
                rows = list(csv.reader(io.StringIO(text)))
                kept = [r for i, r in enumerate(rows) if i == 0 or not any(pattern.search(c) for c in r)]
                n += len(rows) - len(kept)
                out = io.StringIO()
                csv.writer(out).writerows(kept)
                new = out.getvalue()
            else:
                document, hits = _cleared(json.loads(text), pattern)
                n += hits
                new = json.dumps(document)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(path)
        return n

    return find, delete


PURGED = "<PURGED>"


def _cleared(value, pattern: re.Pattern[str]):
    """A JSON document with the subject replaced by `<PURGED>` in every string (and how many strings held it):
    the document keeps its shape, so a miner state or a cache still loads."""
    if isinstance(value, str):
        return (pattern.sub(lambda m: m.group(1) + PURGED + m.group(2), value), 1) if pattern.search(value) \
            else (value, 0)
    if isinstance(value, list):
        items = [_cleared(v, pattern) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(value, dict):
        items = {k: _cleared(v, pattern) for k, v in value.items() if not pattern.search(k)}
        return {k: v for k, (v, _) in items.items()}, sum(n for _, n in items.values()) + len(value) - len(items)
    return value, 0


def _embedding_files(layout: HomeLayout) -> list[tuple[Path, VectorFile | None]]:
    """(path, contents or None when unreadable) of the vector cache's base and segments."""
    from logpilot_dagster.classify import vector_files

    base = layout.classifier_store / vector_files.EMBEDDINGS_FILE
    return [(path, vector_files.read(path)) for path in vector_files.files(base)]


def _matching_texts(files: list[tuple[Path, VectorFile | None]], pattern: re.Pattern[str]) -> set[str]:
    return {t for _, found in files if found is not None for t in found.texts if pattern.search(t)}


def _find_embeddings(layout: HomeLayout, subject: str) -> int:
    return len(_matching_texts(_embedding_files(layout), re.compile(subject_pattern(subject))))


def _delete_embeddings(layout: HomeLayout, subject: str, _: Purging | None = None) -> int:
    """The vector cache keyed by text (its base and segments): entries whose text holds the subject are dropped
    (recomputed if needed); a file that cannot be read, or a write a crash left behind, is removed whole (it
    may hold the subject, and it is only a cache). Returns how many distinct texts were dropped."""
    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import FOLD_WAIT_S

    pattern = re.compile(subject_pattern(subject))
    base = layout.classifier_store / vector_files.EMBEDDINGS_FILE
    with file_lock(vector_files.lock_path(base), FOLD_WAIT_S, "the embedding cache"):  # no fold meanwhile
        # First: a process holding vectors embedded before this point drops them instead of saving them.
        vector_files.mark_purged(base)
        files = _embedding_files(layout)
        for path, found in files:
            if found is None:
                path.unlink(missing_ok=True)
                continue
            keep = np.array([not pattern.search(t) for t in found.texts], dtype=bool)
            if keep.all():
                continue
            if not keep.any():
                path.unlink(missing_ok=True)
                continue
            vector_files.write(path, found.embedder, [t for t, k in zip(found.texts, keep, strict=True) if k],
                               found.vectors[keep])
        for leftover in vector_files.temporary(base):
            leftover.unlink(missing_ok=True)
    return len(_matching_texts(files, pattern))


def _registry_json(layout: HomeLayout) -> list[Path]:
    return sorted(layout.miner.glob("*.json")) if layout.miner.is_dir() else []


def _find_vectors(layout: HomeLayout, subject: str) -> int:
    from logpilot_dagster.vectors import index  # chromadb is imported only when an index exists

    return index.find_subject(layout, subject_pattern(subject))


def _delete_vectors(layout: HomeLayout, subject: str, _: Purging | None = None) -> int:
    from logpilot_dagster.vectors import index

    return index.delete_subject(layout, subject_pattern(subject))


# The Parquet copies of landing files, first: once they are purged, a bootstrap load reads them without the
# subject, so it cannot bring purged rows back into the warehouse (see `lifecycle.purge`).
COPY_SINKS = ("staging", "parsed", "quarantine_files")
SINKS: tuple[Sink, ...] = (
    Sink("staging", "staged records (Parquet per landing file)",
         *_parquet_sink(_parquet_files(lambda x: x.staging), lambda x: x.staging)),
    Sink("parsed", "parsed records (Parquet per landing file)", *_parquet_sink(_parquet_files(lambda x: x.parsed))),
    Sink("quarantine_files", "quarantined lines (Parquet per landing file)",
         *_parquet_sink(_parquet_files(lambda x: x.quarantine), lambda x: x.quarantine)),
    Sink("logs", "message, parameters and key-values of every hot row", *_table_sink("logs", _LOGS_MATCH)),
    Sink("warm", "rows of the warm tier (Parquet per source and month)", *_tier_sink("warm")),
    Sink("cold", "rows of the cold tier (compacted Parquet, a folder or an object store)", *_tier_sink("cold")),
    Sink("quarantine", "detail and masked raw bytes of lines that could not be ingested",
         *_table_sink("quarantine", _QUARANTINE_MATCH)),
    Sink("templates.example", "one example line per template", _find_examples, _clear_examples),
    Sink("template_catalog", "the miner's templates and examples as Parquet",
         *_parquet_sink(lambda x: iter([x.template_catalog] if x.template_catalog.exists() else []))),
    Sink("miner_state", "the Drain3 miners' stored examples", *_text_file_sink(_registry_json)),
    Sink("embedding_cache", "texts embedded for the classifier", _find_embeddings, _delete_embeddings),
    Sink("vector_index", "template texts and masked examples in the Chroma index", _find_vectors,
         _delete_vectors),
    Sink("training_set", "labelled lines for the model tier",
         *_parquet_sink(lambda x: iter([x.training_set] if x.training_set.exists() else []))),
    Sink("llm_answers", "lines the LLM labelled, with its answers", *_text_file_sink(lambda x: [x.llm_answers])),
    Sink("label_cache", "each template's decided label, keyed by its example's key",
         *_text_file_sink(lambda x: [x.label_cache])),
    Sink("evaluation_report", "the classification evaluation report", *_text_file_sink(lambda x: [x.evaluation_report])),
    Sink("schema_registry", "template texts of discovered and rejected schemas",
         *_text_file_sink(lambda x: [x.schema_registry])),
    Sink("live_samples", "messages of unknown live sources kept to infer their format",
         *_text_file_sink(lambda x: sorted(x.live_samples.glob("*.json")) if x.live_samples.is_dir() else [])),
    Sink("live_stream", "records of the folder stream (live/*.jsonl), as producers wrote them",
         lambda x, s: _live_sink().find(x, subject_pattern(s)), lambda x, s, _: _live_sink().delete(x, subject_pattern(s))),
)


def _live_sink():
    from logpilot_dagster.live import sink  # imported when used: the live package imports the store

    return sink


def find_everywhere(layout: HomeLayout, subject: str) -> dict[str, int]:
    return {sink.name: sink.find(layout, subject) for sink in SINKS}
