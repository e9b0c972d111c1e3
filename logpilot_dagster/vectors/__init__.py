"""The vector index of templates and runbooks (Chroma, embeddings computed by LogPilot) and semantic search."""
