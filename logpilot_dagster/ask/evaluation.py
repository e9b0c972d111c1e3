"""Scoring the question engines on the golden questions (`ask/golden/*.toml`): exact result match per shape.

A golden question's expected answer is SQL written by hand, run on the warehouse being evaluated, so the
golden set holds after any bootstrap of the sample. A SQL-shaped answer matches when its rows equal the
expected rows (in order for top-k and lists, as a multiset otherwise); a runbook question matches when the
first passage cited comes from the expected runbook; an unsupported question matches when the engine says
it is not supported. A wrong answer (answered, not matching) is counted apart from a decline.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path

from logpilot_dagster.ask import guard
from logpilot_dagster.store.layout import HomeLayout

SQL_SHAPES = ("count", "breakdown", "top", "first", "last", "list", "catalog")


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    question: str
    shape: str
    sql: str | None = None
    ordered: bool = False
    runbook: str | None = None


@dataclass
class Outcome:
    id: str
    shape: str
    verdict: str  # match | wrong | declined | error
    route: str
    why: str = ""


@dataclass
class EngineScore:
    engine: str
    outcomes: list[Outcome] = field(default_factory=list)
    disabled: str | None = None

    @property
    def supported(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.shape != "unsupported"]

    @property
    def accuracy(self) -> float:
        """Matches among the golden questions of the shapes the parser supports."""
        return sum(o.verdict == "match" for o in self.supported) / max(1, len(self.supported))

    @property
    def declined_unsupported(self) -> float:
        rest = [o for o in self.outcomes if o.shape == "unsupported"]
        return sum(o.verdict == "match" for o in rest) / max(1, len(rest))

    @property
    def wrong(self) -> int:
        return sum(o.verdict == "wrong" for o in self.outcomes)

    def per_shape(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter] = {}
        for o in self.outcomes:
            table.setdefault(o.shape, Counter())[o.verdict] += 1
        return {shape: {"questions": sum(c.values()), **dict(c)} for shape, c in sorted(table.items())}

    def to_dict(self, reasons: bool = True) -> dict:
        """`reasons=False` leaves out why a question failed (it may quote rows): for files kept in the home."""
        outcomes = [asdict(o) if reasons else {k: v for k, v in asdict(o).items() if k != "why"}
                    for o in self.outcomes]
        return {"engine": self.engine, "disabled": self.disabled, "accuracy": round(self.accuracy, 4),
                "declined_unsupported": round(self.declined_unsupported, 4), "wrong": self.wrong,
                "per_shape": self.per_shape(), "outcomes": outcomes}


def golden_dir() -> Path:
    return Path(str(files("logpilot_dagster.ask").joinpath("golden")))


def read_golden(folder: Path | None = None) -> list[GoldenQuestion]:
    questions = []
    for path in sorted(Path(folder or golden_dir()).glob("*.toml")):
        for item in tomllib.loads(path.read_text(encoding="utf-8")).get("question", []):
            questions.append(GoldenQuestion(**item))
    ids = Counter(q.id for q in questions)
    twice = [i for i, n in ids.items() if n > 1]
    if twice:
        raise ValueError(f"golden question ids used twice: {', '.join(twice)}")
    return questions


def _normal(rows: list[list]) -> list[tuple]:
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def judge(question: GoldenQuestion, answer, layout: HomeLayout) -> Outcome:
    """One engine answer against the golden expectation."""
    route = answer.route
    if question.shape == "unsupported":
        verdict = "match" if route == "unsupported" else "wrong"
        return Outcome(question.id, question.shape, verdict, route, "" if verdict == "match" else answer.answer[:200])
    if route == "unsupported":
        return Outcome(question.id, question.shape, "declined", route, answer.answer[:200])
    if question.shape == "rag":
        cited = next((s.get("file") for s in answer.sources if s.get("kind") == "runbook"), None)
        ok = route == "rag" and cited == question.runbook
        return Outcome(question.id, question.shape, "match" if ok else "wrong", route, "" if ok else f"cited {cited}")
    expected = guard.run_sql(layout, question.sql, row_limit=10_000)
    got, want = _normal(answer.rows), _normal(expected.rows)
    if route != "sql":
        return Outcome(question.id, question.shape, "wrong", route, f"route {route}, expected sql")
    same = got == want if question.ordered else Counter(got) == Counter(want)
    why = "" if same else f"got {got[:3]}… expected {want[:3]}…"
    return Outcome(question.id, question.shape, "match" if same else "wrong", route, why)


def evaluate(layout: HomeLayout, engine, questions: list[GoldenQuestion], name: str) -> EngineScore:
    """`engine.answer(question) -> Answer` for each golden question, judged."""
    score = EngineScore(name)
    for question in questions:
        try:
            answer = engine.answer(question.question)
        except Exception as err:  # an engine bug is a failed question, not a failed evaluation
            score.outcomes.append(Outcome(question.id, question.shape, "error", "-", f"{type(err).__name__}: {err}"))
            continue
        if answer is None:  # the LLM engine gave up
            score.outcomes.append(Outcome(question.id, question.shape, "declined", "-", "no answer"))
            continue
        score.outcomes.append(judge(question, answer, layout))
    return score


def evaluate_engines(layout: HomeLayout, llm_config=None, index_factory=None,
                     questions: list[GoldenQuestion] | None = None) -> dict[str, EngineScore]:
    """Both engines on the golden questions; the LLM engine is reported disabled when it has no endpoint."""
    from logpilot_dagster.ask.engine import ParserEngine
    from logpilot_dagster.ask.llm_engine import LLMEngine
    from logpilot_dagster.llm.client import LLMConfig

    questions = questions if questions is not None else read_golden()
    scores = {"parser": evaluate(layout, ParserEngine(layout, index_factory), questions, "parser")}
    llm = LLMEngine(layout, llm_config or LLMConfig.from_env(), index_factory=index_factory)
    if llm.disabled_reason:
        scores["llm"] = EngineScore("llm", disabled=llm.disabled_reason)
    else:
        scores["llm"] = evaluate(layout, llm, questions, "llm")
    return scores
