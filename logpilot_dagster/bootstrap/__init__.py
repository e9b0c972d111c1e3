"""The history bootstrap as plain steps (stage → mine → parse → load → templates), without Dagster."""
