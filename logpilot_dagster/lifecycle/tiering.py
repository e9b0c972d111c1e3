"""Move old rows down the tiers: hot (DuckDB `logs`) → warm (Parquet per source and day under warm/) → cold
(Parquet per source and month at the archive location, a folder or an object store).

Every move is journaled in `tier_moves` so a crash at any point loses nothing and duplicates nothing:
1. `writing`: the files are written aside (warm: under tiering/<move>; cold: `*.tmp`), synced, counted, then
   renamed into place — where no view reads them yet, since the views list the files of `tier_files`;
2. `committed`, in one DuckDB transaction: what the tiers hold changes (warm: the hot rows are deleted by
   log_id; cold: the warm files leave `tier_files`), the new files enter `tier_files` and the views;
3. `done`, once what the new files replace is removed (cold: the warm files).
A move found `writing` after a crash is undone (its new files deleted: the rows never left); one found
`committed` is finished. Readers see the old tiers or the new ones, never both and never a missing file.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from logpilot_dagster.store import tables, tiers
from logpilot_dagster.store.layout import HomeLayout

WARM_AFTER_ENV, COLD_AFTER_ENV, COLD_URL_ENV = ("LOGPILOT_WARM_AFTER_DAYS", "LOGPILOT_COLD_AFTER_DAYS",
                                                "LOGPILOT_COLD_URL")


@dataclass(frozen=True)
class TierSettings:
    warm_after_days: float = 30
    cold_after_days: float = 365
    cold_url: str = ""  # empty: $LOGPILOT_HOME/cold

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TierSettings:
        env = os.environ if env is None else env
        try:
            return cls(float(env.get(WARM_AFTER_ENV) or cls.warm_after_days),
                       float(env.get(COLD_AFTER_ENV) or cls.cold_after_days), env.get(COLD_URL_ENV, ""))
        except ValueError as err:
            raise ValueError(f"{WARM_AFTER_ENV} and {COLD_AFTER_ENV} are numbers of days: {err}") from None

    def cold_location(self, layout: HomeLayout) -> str:
        return self.cold_url or str(layout.cold)


@dataclass
class MoveResult:
    tier: str
    rows: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    recovered: list[str] = field(default_factory=list)  # unfinished moves found and settled

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def tier(layout: HomeLayout, now: datetime | None = None, settings: TierSettings | None = None) -> dict:
    """Both moves, warm then cold, and what each tier holds afterwards."""
    settings = settings or TierSettings()
    now = now or datetime.now(UTC)
    if settings.cold_after_days < settings.warm_after_days:
        raise ValueError("cold_after_days must not be shorter than warm_after_days")
    with tables.connect(layout.duckdb) as con:
        warm = move_to_warm(con, layout, now - timedelta(days=settings.warm_after_days))
        cold = move_to_cold(con, layout, now - timedelta(days=settings.cold_after_days),
                            settings.cold_location(layout))
        return {"now": now.isoformat(), "warm": {**vars(warm), "rows_per_second": round(warm.rows_per_second)},
                "cold": {**vars(cold), "rows_per_second": round(cold.rows_per_second)},
                "tiers": tables.tier_stats(con)}


def tier_once(layout: HomeLayout, tier_name: str, now: str | datetime | None, settings: TierSettings):
    """One move (`warm` or `cold`) and what the tiers hold afterwards (the Dagster assets run them apart)."""
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    with tables.connect(layout.duckdb) as con:
        if tier_name == "warm":
            result = move_to_warm(con, layout, now - timedelta(days=settings.warm_after_days))
        else:
            result = move_to_cold(con, layout, now - timedelta(days=settings.cold_after_days),
                                  settings.cold_location(layout))
        return result, tables.tier_stats(con)


# --- hot → warm -------------------------------------------------------------------------------------------


def move_to_warm(con: duckdb.DuckDBPyConnection, layout: HomeLayout, cutoff: datetime) -> MoveResult:
    started = time.perf_counter()
    result = MoveResult("warm", recovered=recover(con, layout))
    expected = tables.hot_rows_before(con, cutoff)
    if expected:
        move_id = uuid.uuid4().hex[:12]
        staging = layout.tiering / move_id
        tables.begin_move(con, move_id, "warm", {"staging": str(staging)})
        staging.parent.mkdir(parents=True, exist_ok=True)
        tables.hot_rows_to_warm(con, cutoff, staging, move_id)
        staged = sorted(str(p) for p in staging.rglob("*.parquet"))
        for path in staged:
            tiers.fsync(Path(path))
        finals = {s: str(layout.warm / Path(s).relative_to(staging)) for s in staged}
        catalog = [(finals[f], source, low, high, rows, lines, os.path.getsize(f))
                   for f, source, low, high, rows, lines in tables.parquet_summary(con, staged)]
        written = sum(c[4] for c in catalog)
        if written != expected:  # nothing committed: the rows are still hot
            tables.finish_move(con, move_id, "aborted")
            raise RuntimeError(f"warm move {move_id}: wrote {written} rows, expected {expected}")
        plan = {"staging": str(staging), "files": finals, "remove": []}
        tables.save_move_plan(con, move_id, plan)
        for staged_file, final in finals.items():
            tiers.move(staged_file, final)
        deleted = tables.commit_warm_move(con, move_id, list(finals.values()), catalog, expected)
        _finish(con, move_id, plan)
        result.rows, result.files, result.bytes = deleted, len(catalog), sum(c[6] for c in catalog)
    result.seconds = time.perf_counter() - started
    return result


# --- warm → cold ------------------------------------------------------------------------------------------


def move_to_cold(con: duckdb.DuckDBPyConnection, layout: HomeLayout, cutoff: datetime, location: str) -> MoveResult:
    """Warm files wholly older than `cutoff` are compacted into one file per source and month."""
    started = time.perf_counter()
    result = MoveResult("cold", recovered=recover(con, layout))
    groups: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for entry in tables.tier_files(con, "warm", before=cutoff):
        groups[(entry[1], entry[2].astimezone(UTC).strftime("%Y-%m"))].append(entry)
    for (source, month), entries in sorted(groups.items()):
        move_id = uuid.uuid4().hex[:12]
        final = tiers.join(location, f"source={_safe(source)}", f"month={month}", f"part-{move_id}.parquet")
        plan = {"staging": None, "files": {final + ".tmp": final}, "remove": [e[0] for e in entries]}
        tables.begin_move(con, move_id, "cold", plan)
        _write_aside(ds.dataset([tiers.filesystem(e[0])[1] for e in entries], format="parquet",
                                filesystem=tiers.filesystem(entries[0][0])[0]), final + ".tmp")
        expected = sum(e[4] for e in entries)
        if tiers.rows_in(final + ".tmp") != expected:
            tiers.delete(final + ".tmp")
            tables.finish_move(con, move_id, "aborted")
            raise RuntimeError(f"cold move {move_id}: the compacted file does not hold {expected} rows")
        size = tiers.size(final + ".tmp")
        tiers.move(final + ".tmp", final)
        tables.commit_cold_move(con, move_id, plan["remove"], [(final, source, min(e[2] for e in entries),
                                                                 max(e[3] for e in entries), expected,
                                                                 sum(e[5] for e in entries), size)])
        _finish(con, move_id, plan)
        result.rows += expected
        result.files += 1
        result.bytes += size
    result.seconds = time.perf_counter() - started
    return result


def _write_aside(source: ds.Dataset, location: str) -> None:
    """Stream the warm files into one file, a batch at a time: memory stays flat whatever a month holds."""
    fs, path = tiers.filesystem(location)
    if not tiers.is_url(location):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, source.schema, filesystem=fs, compression="zstd") as writer:
        for batch in source.to_batches(batch_size=64_000):
            writer.write_batch(batch, row_group_size=128_000)
    if not tiers.is_url(location):
        tiers.fsync(Path(path))


# --- crash recovery ----------------------------------------------------------------------------------------


def recover(con: duckdb.DuckDBPyConnection, layout: HomeLayout) -> list[str]:
    """Settle the moves a crash left: `writing` ones are undone, `committed` ones are finished."""
    settled = []
    for tier_name in ("warm", "cold"):
        for move_id, state, plan in tables.unfinished_moves(con, tier_name):
            if state == "writing":
                for staged, final in plan.get("files", {}).items():
                    tiers.delete(staged)
                    tiers.delete(final)
                if plan.get("staging"):
                    shutil.rmtree(plan["staging"], ignore_errors=True)
                tables.finish_move(con, move_id, "aborted")
                settled.append(f"{tier_name} move {move_id}: undone (nothing had been committed)")
            else:
                _finish(con, move_id, plan)
                settled.append(f"{tier_name} move {move_id}: finished after a crash")
    return settled


def _finish(con: duckdb.DuckDBPyConnection, move_id: str, plan: dict) -> None:
    """Remove what a committed move replaced; safe to repeat."""
    for gone in plan["remove"]:
        tiers.delete(gone)
    if plan.get("staging"):
        shutil.rmtree(plan["staging"], ignore_errors=True)
    tables.finish_move(con, move_id, "done")


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)


def open_archive(layout: HomeLayout) -> duckdb.DuckDBPyConnection:
    """A read-only connection whose logs_archive includes a cold tier on object storage too."""
    con = tables.connect(layout.duckdb, read_only=True)
    cold = [p for p, *_ in tables.tier_files(con, "cold")]
    if cold and any(tiers.is_url(p) for p in cold):
        fs, _ = tiers.filesystem(cold[0])
        tables.attach_cold(con, ds.dataset([tiers.filesystem(p)[1] for p in cold], filesystem=fs, format="parquet"))
    return con
