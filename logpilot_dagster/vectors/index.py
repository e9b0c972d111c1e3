"""The vector index: templates and runbook passages in a persistent Chroma store under `$LOGPILOT_HOME/chroma`.

LogPilot computes every embedding itself (the project's embedder: all-MiniLM-L6-v2, offline) and hands the
vectors to Chroma; a collection never has an embedding function, so Chroma never downloads one. Telemetry is
off. One writer at a time (the assets run in pool `chroma`); `sync_*` makes a collection hold exactly what
it is given (new and changed items upserted, vanished ones deleted), so re-running is safe.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.vectors.runbooks import Passage, read_runbooks

TEMPLATES = "logpilot_templates"
RUNBOOKS = "logpilot_runbooks"
BATCH = 256


class IndexMissing(FileNotFoundError):
    """No vector index yet (or not the collection asked for)."""


@dataclass(frozen=True)
class TemplateDoc:
    template_id: str
    source: str
    template: str
    label: str | None
    count: int
    example: str | None

    @property
    def embedded_text(self) -> str:
        """What the embedder reads: the template's words (wildcards and request-id noise dropped) and the first
        line of one example, which carries words a wildcard hides ("java" in an OOM kill); a stack trace
        after it would only dilute the vector."""
        words = clean_template(self.template)
        example = clean_template((self.example or "").split("\n", 1)[0][:300])
        return f"{words}. {example}" if example and example != words else words

    @property
    def digest(self) -> str:
        """What a change of re-embeds and replaces the entry. Not the count: every live batch moves the counts
        of the templates it matched, and a count is only metadata (`VectorIndex._sync` refreshes it)."""
        return hashlib.sha256("\x1f".join(map(str, (self.embedded_text, self.source, self.label,
                                                     self.example))).encode("utf-8")).hexdigest()[:16]


@dataclass
class Hit:
    kind: str  # template | runbook
    id: str
    score: float  # cosine similarity, 1 is the same direction
    template_id: str | None = None
    template: str | None = None
    source: str | None = None
    count: int | None = None
    label: str | None = None
    example: str | None = None
    file: str | None = None
    title: str | None = None
    heading: str | None = None
    text: str | None = None

    def to_dict(self) -> dict:
        keys = (("template_id", "template", "source", "count", "label", "example") if self.kind == "template"
                else ("file", "title", "heading", "text"))
        return {"kind": self.kind, "id": self.id, "score": round(self.score, 4),
                **{k: v for k, v in asdict(self).items() if k in keys}}


@dataclass(frozen=True)
class SyncResult:
    total: int
    upserted: int  # embedded and written again
    deleted: int
    refreshed: int = 0  # same vector and text, metadata updated in place (a template's count)


_NOISE = re.compile(r"<\*>|\[(?:[^\]\[]*<\*>[^\]\[]*)\]|\b[0-9a-f]{8,}\b|[=:]\s*(?=[,;\s]|$)")


def clean_template(text: str) -> str:
    """Template text with its wildcards, bracketed ids (`[req-<*> - - - - -]`) and hex runs removed."""
    text = _NOISE.sub(" ", text)
    text = re.sub(r"(?<!\w)[-_/\\|(){}\[\],;:=.*#]+(?!\w)", " ", text)
    return " ".join(text.split())


class VectorIndex:
    def __init__(self, path: Path, embedder):
        self.path = Path(path)
        self.embedder = embedder
        self._client = None

    # --- Chroma -----------------------------------------------------------------------------------------

    def client(self):
        if self._client is None:
            self._client = chroma_client(self.path)
        return self._client

    def collection(self, name: str, create: bool = False):
        client = self.client()
        if create:
            return client.get_or_create_collection(name, embedding_function=None,
                                                   configuration={"hnsw": {"space": "cosine"}})
        try:
            return client.get_collection(name, embedding_function=None)
        except Exception as err:  # chromadb raises NotFoundError/ValueError depending on the version
            raise IndexMissing(f"no {name} collection in {self.path}: materialize template_vectors and "
                               "runbook_index (`make run`, or `logpilot bootstrap`)") from err

    # --- writing ----------------------------------------------------------------------------------------

    def sync_templates(self, docs: Sequence[TemplateDoc]) -> SyncResult:
        items = {d.template_id: d for d in docs}
        return self._sync(TEMPLATES, {k: (d.digest, d.embedded_text, d.template, _template_meta(d))
                                      for k, d in items.items()})

    def sync_runbooks(self, passages: Sequence[Passage]) -> SyncResult:
        return self._sync(RUNBOOKS, {p.id: (p.digest, p.embedded_text, p.text,
                                            {"file": p.file, "title": p.title, "heading": p.heading})
                                     for p in passages})

    def _sync(self, name: str, items: dict[str, tuple[str, str, str, dict]]) -> SyncResult:
        collection = self.collection(name, create=True)
        stored = collection.get(include=["metadatas"])
        metas = {i: m or {} for i, m in zip(stored["ids"], stored["metadatas"] or [], strict=False)}
        have = {i: m.get("digest") for i, m in metas.items()}
        stale = [i for i in have if i not in items]
        changed = [k for k, (digest, *_rest) in items.items() if have.get(k) != digest]
        wanted = {k: {**meta, "digest": digest} for k, (digest, _text, _doc, meta) in items.items()}
        # An entry whose digest stays has the same keys (the digest covers the optional ones), so Chroma's
        # merging update sets them all.
        refreshed = [k for k in items if have.get(k) == wanted[k]["digest"] and metas[k] != wanted[k]]
        for start in range(0, len(refreshed), BATCH):
            ids = refreshed[start:start + BATCH]
            collection.update(ids=ids, metadatas=[wanted[i] for i in ids])
        for start in range(0, len(stale), BATCH):
            collection.delete(ids=stale[start:start + BATCH])
        for start in range(0, len(changed), BATCH):
            ids = changed[start:start + BATCH]
            vectors = self.embedder.embed([items[i][1] for i in ids])
            # Delete, then add: Chroma's upsert merges metadata, so a cleared example would survive it.
            replaced = [i for i in ids if i in have]
            if replaced:
                collection.delete(ids=replaced)
            collection.add(ids=ids, embeddings=np.asarray(vectors, dtype=np.float32),
                              documents=[items[i][2] for i in ids],
                              metadatas=[wanted[i] for i in ids])
        return SyncResult(total=len(items), upserted=len(changed), deleted=len(stale), refreshed=len(refreshed))

    # --- reading ----------------------------------------------------------------------------------------

    def search(self, query: str, k: int = 5, runbooks: bool = False, templates: bool = True,
               where: dict | None = None) -> list[Hit]:
        """The `k` nearest templates (and, with `runbooks`, the `k` nearest runbook passages after them)."""
        vector = np.asarray(self.embedder.embed([query]), dtype=np.float32)
        hits: list[Hit] = []
        if templates:
            hits += self._query(TEMPLATES, vector, k, where)
        if runbooks:
            hits += self._query(RUNBOOKS, vector, k, None)
        return hits

    def _query(self, name: str, vector: np.ndarray, k: int, where: dict | None) -> list[Hit]:
        collection = self.collection(name)
        n = min(k, collection.count())
        if n == 0:
            return []
        found = collection.query(query_embeddings=vector, n_results=n, where=where or None,
                                 include=["documents", "metadatas", "distances"])
        hits = []
        for id_, doc, meta, distance in zip(found["ids"][0], found["documents"][0], found["metadatas"][0],
                                            found["distances"][0], strict=True):
            meta = meta or {}
            score = 1.0 - float(distance)
            if name == TEMPLATES:
                hits.append(Hit("template", id_, score, template_id=id_, template=doc, source=meta.get("source"),
                                count=int(meta.get("count", 0)), label=meta.get("label"), example=meta.get("example")))
            else:
                hits.append(Hit("runbook", id_, score, file=meta.get("file"), title=meta.get("title"),
                                heading=meta.get("heading"), text=doc))
        return hits

    # --- purge (store.sinks) ----------------------------------------------------------------------------

    def matching(self, pattern: re.Pattern[str], names: Iterable[str] = (TEMPLATES,)) -> dict[str, list[str]]:
        """Ids per collection whose document or any text metadata holds the pattern."""
        found: dict[str, list[str]] = {}
        for name in names:
            try:
                collection = self.collection(name)
            except IndexMissing:
                continue
            stored = collection.get(include=["documents", "metadatas"])
            found[name] = [i for i, doc, meta in zip(stored["ids"], stored["documents"] or [],
                                                     stored["metadatas"] or [], strict=False)
                           if pattern.search(doc or "") or any(isinstance(v, str) and pattern.search(v)
                                                               for v in (meta or {}).values())]
        return found

    def delete_ids(self, name: str, ids: list[str]) -> int:
        if ids:
            self.collection(name).delete(ids=ids)
        return len(ids)


def _template_meta(doc: TemplateDoc) -> dict:
    meta = {"source": doc.source, "count": int(doc.count or 0), "label": doc.label, "example": doc.example}
    return {k: v for k, v in meta.items() if v is not None}  # Chroma refuses None values


def chroma_client(path: Path):
    """A persistent Chroma client with telemetry off (imported here: chromadb takes a second to import)."""
    import chromadb
    from chromadb.config import Settings

    Path(path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False,
                                                                       allow_reset=False))


def index_exists(layout: HomeLayout) -> bool:
    return (layout.chroma / "chroma.sqlite3").is_file()


def default_embedder(layout: HomeLayout):
    """The classifier store's embedder: its vector cache already holds the templates' texts."""
    from logpilot_dagster.classify.embedder import store_embedder

    return store_embedder(layout.classifier_store)


def open_index(layout: HomeLayout, embedder=None) -> VectorIndex:
    """The home's index for reading; `IndexMissing` when none was built."""
    if not index_exists(layout):
        raise IndexMissing(f"no vector index in {layout.chroma}: run `make run` (or `logpilot bootstrap`), "
                           "which materializes template_vectors and runbook_index")
    return VectorIndex(layout.chroma, embedder or default_embedder(layout))


# --- what the assets call ---------------------------------------------------------------------------------


def template_docs(rows: Iterable[tuple]) -> list[TemplateDoc]:
    """From `tables.templates_for_index` rows (template_id, source, template, label, label_tier, count, example)."""
    return [TemplateDoc(tid, source, template, label, int(count or 0), example)
            for tid, source, template, label, _tier, count, example in rows]


def index_templates(layout: HomeLayout, embedder) -> SyncResult:
    from logpilot_dagster.store import tables

    with tables.connect(layout.duckdb, read_only=True) as con:
        docs = template_docs(tables.templates_for_index(con))
    return VectorIndex(layout.chroma, embedder).sync_templates(docs)


def index_runbooks(layout: HomeLayout, embedder) -> tuple[SyncResult, int]:
    """(the sync, how many runbook files)."""
    passages = read_runbooks(layout.runbooks)
    return VectorIndex(layout.chroma, embedder).sync_runbooks(passages), len({p.file for p in passages})


# --- the purge's sink -------------------------------------------------------------------------------------


def find_subject(layout: HomeLayout, pattern: str) -> int:
    if not index_exists(layout):
        return 0
    found = VectorIndex(layout.chroma, embedder=None).matching(re.compile(pattern))
    return sum(len(ids) for ids in found.values())


def delete_subject(layout: HomeLayout, pattern: str) -> int:
    """Template vectors whose text or example holds the subject are deleted; the next template_vectors run
    adds them back from `templates`, whose examples the purge has cleared by then.

    Chroma keeps a deleted document's bytes in its SQLite file (free pages, its log), so the index is
    rebuilt without them in a new folder from what remains (stored vectors, no re-embedding) and swapped in:
    no copy of the subject is left on disk."""
    if not index_exists(layout):
        return 0
    compiled = re.compile(pattern)
    index = VectorIndex(layout.chroma, embedder=None)
    doomed = index.matching(compiled)
    deleted = sum(len(ids) for ids in doomed.values())
    if deleted:
        _rebuild_without(layout.chroma, {i for ids in doomed.values() for i in ids})
    return deleted


def _rebuild_without(folder: Path, dropped: set[str]) -> None:
    import shutil

    from chromadb.api.client import SharedSystemClient

    fresh = folder.with_name(folder.name + ".rebuild")
    shutil.rmtree(fresh, ignore_errors=True)
    old, new = chroma_client(folder), chroma_client(fresh)
    for collection in old.list_collections():
        kept = collection.get(include=["embeddings", "documents", "metadatas"])
        target = new.get_or_create_collection(collection.name, embedding_function=None,
                                              configuration={"hnsw": {"space": "cosine"}})
        rows = [n for n, i in enumerate(kept["ids"]) if i not in dropped]
        for start in range(0, len(rows), BATCH):
            part = rows[start:start + BATCH]
            target.add(ids=[kept["ids"][n] for n in part],
                       embeddings=np.asarray([kept["embeddings"][n] for n in part], dtype=np.float32),
                       documents=[kept["documents"][n] for n in part],
                       metadatas=[kept["metadatas"][n] for n in part])
    del old, new
    SharedSystemClient.clear_system_cache()  # no client may keep the old files open
    retired = folder.with_name(folder.name + ".retired")
    shutil.rmtree(retired, ignore_errors=True)
    folder.rename(retired)
    fresh.rename(folder)
    shutil.rmtree(retired)
