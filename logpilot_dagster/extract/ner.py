"""Key-value extraction, tier 2: a small spaCy NER model tagging EVENT, KEY and VALUE in a log message.

The pipeline is blank English with a log tokenizer (numbers, hex, IPs, paths, timestamps stay whole; `k=v`
and `k:v` split into key, separator, value) and a normaliser that maps those tokens to classes (`<num>`,
`<ip>`, ...) so the model learns from where a value sits, not from the value itself.

Training examples are derived from mined templates: each `<*>` slot filled with a value is a VALUE, the word
before it (when it names the slot: `port <*>`, `user=<*>`) a KEY, and the leading words of the template the
EVENT. Hand-labelled examples in CoNLL form (`token TAG` per line, BIO tags, blank line between messages)
can be added.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.training import Example
from spacy.util import minibatch

from logpilot_dagster.extract.registry import NOT_KEYS
from logpilot_dagster.mining.template_text import WILDCARD

LABELS = ("EVENT", "KEY", "VALUE")
TOKENIZER_NAME = "logpilot.log_tokenizer.v1"
NORMALISER_NAME = "logpilot_normalise"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1

# Order matters: the first class that matches a token names it.
TOKEN_CLASSES: tuple[tuple[str, str], ...] = (
    ("<ts>", r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?|\d\d:\d\d:\d\d(?:[.,]\d+)?"),
    ("<uuid>", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    ("<ip>", r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?"),
    ("<hex>", r"0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}"),
    ("<path>", r"(?:[A-Za-z]:)?[/\\][\w.\-/\\~%]*|https?://\S+"),
    ("<num>", r"[-+]?\d+(?:[.,]\d+)*(?:[a-zA-Z%]{0,3})"),
)
_CLASS_RES = [(name, re.compile(f"(?:{pattern})$")) for name, pattern in TOKEN_CLASSES]
_TOKEN_MATCH = re.compile("|".join(f"(?:{p})$" for _, p in TOKEN_CLASSES))
_PREFIX = re.compile(r"""^[\[\(\{<"'`]""")
_SUFFIX = re.compile(r"""[\]\)\}>"'`,;.:!?]$""")
_INFIX = re.compile(r"""(?<=[A-Za-z_\]\)])[=:](?=\S)|(?<=[A-Za-z_])=|,(?=\S)""")


@spacy.registry.tokenizers(TOKENIZER_NAME)
def create_log_tokenizer():
    def make(nlp: Language) -> Tokenizer:
        return Tokenizer(nlp.vocab, prefix_search=_PREFIX.search, suffix_search=_SUFFIX.search,
                         infix_finditer=_INFIX.finditer, token_match=_TOKEN_MATCH.match)
    return make


def token_class(text: str) -> str:
    for name, pattern in _CLASS_RES:
        if pattern.match(text):
            return name
    return text.lower()


@Language.component(NORMALISER_NAME)
def normalise_tokens(doc):
    for token in doc:
        token.norm_ = token_class(token.text)
    return doc


def blank_pipeline() -> Language:
    nlp = spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_NAME}}})
    nlp.add_pipe(NORMALISER_NAME)
    ner = nlp.add_pipe("ner")
    for label in LABELS:
        ner.add_label(label)
    return nlp


# --- training examples --------------------------------------------------------------------------------

Entities = list[tuple[int, int, str]]


def example_from_template(template: str, params: Sequence[str]) -> tuple[str, Entities]:
    """The message a template gives with `params` in its slots, and its EVENT/KEY/VALUE character spans."""
    pieces = template.split(WILDCARD)
    if len(pieces) - 1 != len(params):
        raise ValueError(f"template has {len(pieces) - 1} slots, got {len(params)} params")
    text, entities = pieces[0], []
    for value, after in zip(params, pieces[1:], strict=True):
        before = text
        key = _key_span(before)
        if key:
            entities.append((*key, "KEY"))
        entities.append((len(text), len(text) + len(value), "VALUE"))
        text += value + after
    event = _event_span(pieces[0] if len(pieces) > 1 else template, entities)
    if event:
        entities.insert(0, (*event, "EVENT"))
    return text, entities


_KEY_BEFORE = re.compile(r"(?:^|[\s\[(,;])(?P<key>[A-Za-z_][\w.\-]*)(?P<sep>\s?[=:]\s?|\s)$")


def _key_span(before: str) -> tuple[int, int] | None:
    match = _KEY_BEFORE.search(before)
    if match is None:
        return None
    key = match.group("key")
    if match.group("sep").strip() == "" and (key.lower() in NOT_KEYS or len(key) < 2):
        return None
    return match.start("key"), match.end("key")


_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*")


def _event_span(head: str, entities: Entities) -> tuple[int, int] | None:
    """The template's leading words (at most four), before any key or value, without trailing stop words."""
    limit = min((start for start, _, _ in entities), default=len(head))
    words = []
    for match in _WORD.finditer(head[:limit]):
        if words and head[words[-1].end():match.start()].strip():
            break  # punctuation between words ends the phrase
        words.append(match)
        if len(words) == 4:
            break
    while words and words[-1].group(0).lower() in NOT_KEYS:
        words.pop()
    if not words or words[0].start() > 0 and head[:words[0].start()].strip(" [](){}:-"):
        return None
    return words[0].start(), words[-1].end()


_FILLERS = (
    lambda rng: str(rng.randint(0, 65535)),
    lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    lambda rng: f"0x{rng.getrandbits(32):08x}",
    lambda rng: rng.choice(["alice", "svc-backup", "node-7", "eth0", "payments", "worker3", "OK", "FAILED"]),
    lambda rng: "/" + "/".join(rng.choice(["var", "log", "tmp", "data", "app.conf", "x1"]) for _ in range(3)),
    lambda rng: f"{rng.random() * 100:.2f}",
)


def synthetic_params(template: str, n: int, rng: random.Random) -> list[list[str]]:
    slots = template.count(WILDCARD)
    return [[rng.choice(_FILLERS)(rng) for _ in range(slots)] for _ in range(n)]


def read_conll(path: str | Path) -> list[tuple[str, Entities]]:
    """Hand-labelled messages: `token TAG` per line (BIO: B-KEY, I-VALUE, O), a blank line between messages."""
    messages: list[tuple[str, Entities]] = []
    tokens: list[tuple[str, str]] = []
    lines = Path(path).read_text(encoding="utf-8").splitlines() + [""]
    for number, line in enumerate(lines, 1):
        if line.startswith("-DOCSTART-"):
            continue
        if not line.strip():
            if tokens:
                messages.append(_from_bio(tokens))
                tokens = []
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{path}:{number}: expected 'token TAG', got {line!r}")
        tag = parts[-1]
        if tag != "O" and (tag[:2] not in ("B-", "I-") or tag[2:] not in LABELS):
            raise ValueError(f"{path}:{number}: tag {tag!r} is not O or B-/I- with one of {', '.join(LABELS)}")
        tokens.append((" ".join(parts[:-1]), tag))
    return messages


def _from_bio(tokens: list[tuple[str, str]]) -> tuple[str, Entities]:
    text, entities = "", []
    current: list | None = None
    for token, tag in tokens:
        start = len(text) + (1 if text else 0)
        text = f"{text} {token}" if text else token
        if tag.startswith("I-") and current and current[2] == tag[2:]:
            current[1] = len(text)
            continue
        if current:
            entities.append(tuple(current))
            current = None
        if tag != "O":
            current = [start, len(text), tag[2:]]
    if current:
        entities.append(tuple(current))
    return text, entities


# --- the model -----------------------------------------------------------------------------------------


@dataclass
class KVNerModel:
    nlp: Language
    metadata: dict

    def annotate(self, messages: Iterable[str]) -> list[list[tuple[str, str]]]:
        """(label, text) entities per message."""
        return [[(ent.label_, ent.text) for ent in doc.ents] for doc in self.nlp.pipe(messages, batch_size=256)]

    def extract(self, messages: Sequence[str]) -> list[dict[str, str]]:
        """key → value per message: each VALUE paired with the KEY right before it (a separator may sit between)."""
        out = []
        for doc in self.nlp.pipe(messages, batch_size=256):
            pairs: dict[str, str] = {}
            key = None
            for ent in doc.ents:
                if ent.label_ == "KEY":
                    key = ent
                elif ent.label_ == "VALUE" and key is not None and ent.start - key.end <= 1:
                    pairs.setdefault(key.text, ent.text)
                    key = None
            out.append(pairs)
        return out

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.nlp.to_disk(directory / "pipeline")
        (directory / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> KVNerModel:
        directory = Path(directory)
        if not (directory / METADATA_FILE).is_file():
            raise ValueError(f"{directory} is not a KV NER model folder (no {METADATA_FILE})")
        nlp = spacy.load(directory / "pipeline")
        return cls(nlp, json.loads((directory / METADATA_FILE).read_text(encoding="utf-8")))


def training_examples(templates: Iterable[str], per_template: int = 4, seed: int = 0,
                      params: dict[str, list[list[str]]] | None = None) -> list[tuple[str, Entities]]:
    """Derived examples: real parameters when given (template → list of params), else synthetic fills."""
    rng = random.Random(seed)
    out = []
    for template in templates:
        if WILDCARD not in template:
            continue
        fills = (params or {}).get(template) or synthetic_params(template, per_template, rng)
        for fill in fills[:per_template]:
            out.append(example_from_template(template, fill))
    return out


def expected_pairs(text: str, entities: Entities) -> dict[str, str]:
    """The key → value pairs an annotated example holds (for KV F1)."""
    pairs: dict[str, str] = {}
    ordered = sorted(entities)
    for (s1, e1, l1), (s2, e2, l2) in zip(ordered, ordered[1:], strict=False):
        if l1 == "KEY" and l2 == "VALUE" and not text[e1:s2].strip(" =:"):
            pairs.setdefault(text[s1:e1], text[s2:e2])
    return pairs


def train_ner(examples: Sequence[tuple[str, Entities]], iterations: int = 15, seed: int = 0,
              dropout: float = 0.1) -> KVNerModel:
    """A fresh pipeline trained on (text, entities) examples."""
    if not examples:
        raise ValueError("no training examples: templates with <*> slots or CoNLL files are needed")
    spacy.util.fix_random_seed(seed)
    nlp = blank_pipeline()
    prepared = [_example(nlp, text, entities) for text, entities in examples]
    optimizer = nlp.initialize(lambda: prepared)
    rng = random.Random(seed)
    losses: dict[str, float] = {}
    for _ in range(iterations):
        rng.shuffle(prepared)
        losses = {}
        for batch in minibatch(prepared, size=32):
            nlp.update(batch, sgd=optimizer, drop=dropout, losses=losses)
    metadata = {"format_version": FORMAT_VERSION, "labels": list(LABELS), "examples": len(prepared),
                "iterations": iterations, "final_loss": float(losses.get("ner", 0.0)),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "metrics": {}}
    return KVNerModel(nlp, metadata)


def _example(nlp: Language, text: str, entities: Entities) -> Example:
    # nlp.update runs only trainable components, so the normaliser is applied here as at inference.
    doc = normalise_tokens(nlp.make_doc(text))
    spans, taken = [], set()
    for start, end, label in sorted(entities):
        span = doc.char_span(start, end, label=label, alignment_mode="expand")
        if span is None or taken & set(range(span.start, span.end)):
            continue  # overlaps an earlier span once widened to token boundaries
        taken |= set(range(span.start, span.end))
        spans.append((span.start_char, span.end_char, label))
    return Example.from_dict(doc, {"entities": spans})
