"""Fixtures shared by classification tests; import them into a test module to use them."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def real_embedder():
    """The packaged all-MiniLM-L6-v2, loaded once per session (offline), behind the text cache."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from logpilot_dagster.classify.embedder import CachedEmbedder, SentenceEmbedder

    embedder = CachedEmbedder(SentenceEmbedder())
    embedder.embed(["warm up"])
    return embedder
