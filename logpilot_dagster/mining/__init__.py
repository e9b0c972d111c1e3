"""Template mining: Drain3 as the engine, with LogPilot's masking, tokenisation, merging and rendering."""

from logpilot_dagster.mining.config import MinerConfig
from logpilot_dagster.mining.miner import LineMatch, LogMiner, TemplateInfo

__all__ = ["LineMatch", "LogMiner", "MinerConfig", "TemplateInfo"]
