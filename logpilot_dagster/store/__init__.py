"""The one owner of what LogPilot writes: paths (`layout`), DuckDB tables and SQL (`tables`), and every
copy of a line's content (`sinks`, which the purge walks)."""
