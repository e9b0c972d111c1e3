"""Live ingestion: from the bootstrap watermark T1 to a stream (a folder of JSON lines or Kafka), exactly once.

Plain Python, no Dagster: the `live_ingest` asset, the `live_ingest_sensor` and `logpilot live` all call
`engine.LiveEngine`, so every path ingests the same way.
"""
