"""Partitions: every landing file is one partition of the bootstrap."""

from dagster import DynamicPartitionsDefinition

landing_files_partitions = DynamicPartitionsDefinition(name="landing_files")
