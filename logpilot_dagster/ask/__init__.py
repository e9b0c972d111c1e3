"""Questions in plain language: guarded SQL, a semantic parser (no LLM), an LLM pilot, and their evaluation."""
