"""The semantic parser: the questions people ask most about a log warehouse, turned into SQL without an LLM.

A question is read in passes, each taking the words it understands out of play: a quoted phrase (a message
filter), a time window, the route (why / how do I fix → runbooks; find templates like → search), the shape
(how many, per X, top N X, which X has the most, first/last time, show the last N), then filter values
matched against the warehouse's own vocabulary. Whatever content words remain mean the question says
something the parser did not understand: it answers "not supported" instead of answering another question.

The SQL reads `logs_labelled` (every tier, with labels), joined to `system_catalog` and `templates` when
the question needs them; it runs under the guard like any other statement.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from logpilot_dagster.ask.vocabulary import Term, Vocabulary, tokens

MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): n for n, name in enumerate(calendar.month_abbr) if name})
MONTHS.pop("may", None)  # "may" is a verb far more often; "in May 2026" is matched with its year
WEEKDAYS = {name.lower(): n for n, name in enumerate(calendar.day_name)}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "a": 1, "an": 1}

# Group-by dimensions: the words for them and their SQL (l = logs_labelled, c = system_catalog, t = templates).
DIMENSION_WORDS = {
    "source": "source", "sources": "source", "system": "source", "systems": "source", "service": "source",
    "services": "source", "application": "source", "applications": "source", "app": "source", "apps": "source",
    "level": "level", "levels": "level", "severity": "level", "severities": "level", "log level": "level",
    "label": "label", "labels": "label", "category": "label", "categories": "label", "class": "label",
    "classes": "label", "kind": "label", "kinds": "label", "type": "label", "types": "label",
    "template": "template", "templates": "template", "message pattern": "template", "pattern": "template",
    "patterns": "template", "message type": "template", "event type": "template", "event types": "template",
    "department": "department", "departments": "department", "team": "department", "teams": "department",
    "criticality": "criticality", "criticalities": "criticality",
    "owner": "owner", "owners": "owner",
    "month": "month", "months": "month", "monthly": "month",
    "day": "day", "days": "day", "daily": "day", "date": "day", "dates": "day",
    "year": "year", "years": "year", "yearly": "year",
    "hour": "hour", "hours": "hour", "hourly": "hour", "hour of day": "hour", "hour of the day": "hour",
    "weekday": "weekday", "weekdays": "weekday", "day of week": "weekday", "day of the week": "weekday",
    "component": "component", "components": "component", "logger": "component", "loggers": "component",
    "program": "component", "programs": "component",
}
_DIMENSION_SQL = {
    "source": ("l.source", "source"), "level": ("l.level", "level"), "label": ("l.label", "label"),
    "template": ("l.template_id", "template_id"), "department": ("c.department", "department"),
    "criticality": ("c.criticality", "criticality"), "owner": ("c.owner_email", "owner_email"),
    "month": ("strftime(l.ts AT TIME ZONE 'UTC', '%Y-%m')", "month"),
    "day": ("strftime(l.ts AT TIME ZONE 'UTC', '%Y-%m-%d')", "day"),
    "year": ("year(l.ts AT TIME ZONE 'UTC')", "year"),
    "hour": ("hour(l.ts AT TIME ZONE 'UTC')", "hour"),
    "weekday": ("dayname(l.ts AT TIME ZONE 'UTC')", "weekday"),
    "component": ("l.component", "component"),
}
_FILTER_SQL = {"source": "l.source", "level": "l.level", "label": "l.label", "department": "c.department",
               "criticality": "c.criticality", "template": "l.template_id", "component": "l.component"}
_TIME_DIMENSIONS = ("month", "day", "year", "hour", "weekday")
_CATALOG = ("department", "criticality", "owner")
# When one phrase names several values ("error": a level and a label), the first dimension here wins.
_PRIORITY = ("level", "source", "label", "department", "criticality")

# Words that carry no meaning for the query once the passes have run.
STOPWORDS = set("""
a an the of in on at for from to by with and or but is are was were be been being do does did done have has had
having what which who whom whose how many much number count counts total overall all any each every per there
their them they it its this that these those me my we our us you your i show list give tell find get see seen
please can could would should will shall may might must as about than then so such also just only ever
lines line logs log events event entries entry records record messages message rows row occurrences occurrence
happen happened happens occur occurred occurs logged produced produce produces emitted emit emits generated
reported report reports wrote written write writes writing logging came come comes sent got value values
up down out over into onto within during between since until till through across against vs versus
time times date so far far yet now currently current recorded stored warehouse data dataset platform logpilot
amount volume breakdown broken split grouped group distribution distributed counted tally statistics stats
most least top bottom highest lowest largest smallest biggest fewest more fewer less greatest maximum minimum
first last earliest latest recent newest oldest when where why whats what's hows whens
""".split())  # noqa: SIM905 (a word list reads better as text)
_CONTENT_OK = {"s", "'s", "vs"}

_RAG = re.compile(r"^\s*(why\b|how (do|can|should|would) (i|we|you)\b|how to\b|what (should|can|do) (i|we)\b|"
                  r"what (does|do) .* mean\b|what causes\b|what is causing\b|what's causing\b|"
                  r"(fix|resolve|troubleshoot|debug|repair|remediate|mitigate)\b|"
                  r"(is there|do we have|where is) an? (runbook|playbook|procedure)\b)|"
                  r"\b(runbook|playbook|how do i fix|how to fix|root cause)\b", re.I)
_SEARCH = re.compile(r"^\s*(find|search( for)?|look up|lookup|show( me)?|list|which|what)\s+(the\s+)?"
                     r"(templates?|log (lines|messages)|messages|patterns|events)\s+"
                     r"(like|similar to|about|that (look|looks) like|matching|mentioning|related to|for)\s+(?P<q>.+)$"
                     r"|^\s*(search|find templates?|search templates?)\s*(for)?\s*[:]?\s*(?P<q2>.+)$", re.I)


class Unsupported(Exception):
    """The question says something the parser does not understand; the message says what."""


@dataclass
class Window:
    start: datetime | None
    end: datetime | None  # exclusive
    text: str


@dataclass
class Filter:
    dimension: str
    values: list[str]
    negated: bool = False


@dataclass
class Parse:
    route: str  # sql | rag | search
    shape: str = "count"  # count | breakdown | top | first | last | list | catalog | rag | search
    subject: str = "logs"  # logs | templates | sources
    group_by: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    window: Window | None = None
    contains: list[str] = field(default_factory=list)  # quoted phrases the message must hold
    limit: int | None = None
    ascending: bool = False
    having: tuple[str, int] | None = None  # (">" | "<", n)
    catalog_field: str | None = None  # owner_email | department | criticality
    query: str = ""  # the text to search, for rag and search


# --- time ---------------------------------------------------------------------------------------------

def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _month_window(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return NUMBER_WORDS.get(text)


_NUM = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty)"
_MONTH_RE = "|".join(sorted((m for m in MONTHS), key=len, reverse=True))
_DATE = r"(\d{4}-\d{2}-\d{2})"


def extract_window(text: str, now: datetime) -> tuple[Window | None, str]:
    """The first time window the text names, and the text without it."""
    today = now.date()
    patterns: list[tuple[str, callable]] = [
        (rf"\bbetween {_DATE} and {_DATE}\b", lambda m: (_utc(date.fromisoformat(m[1])),
                                                          _utc(date.fromisoformat(m[2])) + timedelta(days=1),
                                                          f"between {m[1]} and {m[2]}")),
        (rf"\bfrom {_DATE} (?:to|until|till) {_DATE}\b", lambda m: (_utc(date.fromisoformat(m[1])),
                                                                     _utc(date.fromisoformat(m[2])) + timedelta(days=1),
                                                                     f"from {m[1]} to {m[2]}")),
        (rf"\b(?:on|for) {_DATE}\b|^{_DATE}\b", lambda m: (_utc(date.fromisoformat(m[1] or m[2])),
                                                          _utc(date.fromisoformat(m[1] or m[2])) + timedelta(days=1),
                                                          f"on {m[1] or m[2]}")),
        (rf"\b(?:since|after) {_DATE}\b", lambda m: (_utc(date.fromisoformat(m[1])), None, f"since {m[1]}")),
        (rf"\bbefore {_DATE}\b", lambda m: (None, _utc(date.fromisoformat(m[1])), f"before {m[1]}")),
        (rf"\b(?:in|during|for|of)?\s*(?:the month of )?({_MONTH_RE}|may)\.? (\d{{4}})\b",
         lambda m: (*_month_window(int(m[2]), MONTHS.get(m[1].lower(), 5)), f"in {m[1].capitalize()} {m[2]}")),
        (rf"\b(?:in|during|for|of|since) (?:the month of )?({_MONTH_RE})\b",
         lambda m: _named_month(m, today)),
        (r"\b(?:in|during|for|of) (?:the year )?(\d{4})\b",
         lambda m: (_utc(date(int(m[1]), 1, 1)), _utc(date(int(m[1]) + 1, 1, 1)), f"in {m[1]}")),
        (rf"\b(?:in |over |during |for |within )?the (?:last|past|previous) {_NUM} (hour|day|week|month)s?\b",
         lambda m: _last(m[1], m[2], now)),
        (rf"\b(?:in |over |during |for |within )?(?:the )?(?:last|past|previous) {_NUM} (hour|day|week|month)s?\b",
         lambda m: _last(m[1], m[2], now)),
        (r"\b(?:in |over |during |for |within )?the (?:last|past) (hour|day|week|month|year)\b",
         lambda m: _last("1", m[1], now)),
        (r"\b(?:in |over |during )?last (week|month|year)\b", lambda m: _last("1", m[1], now)),
        (r"\byesterday\b", lambda m: (_utc(today - timedelta(days=1)), _utc(today), "yesterday")),
        (r"\btoday\b", lambda m: (_utc(today), None, "today")),
        (r"\bthis (week)\b", lambda m: (_utc(today - timedelta(days=today.weekday())), None, "this week")),
        (r"\bthis (month)\b", lambda m: (_utc(today.replace(day=1)), None, "this month")),
        (r"\bthis (year)\b", lambda m: (_utc(today.replace(month=1, day=1)), None, "this year")),
        (r"\bsince (?:last )?(" + "|".join(WEEKDAYS) + r")\b", lambda m: _since_weekday(m[1], today)),
    ]
    for pattern, make in patterns:
        match = re.search(pattern, text, flags=re.I)
        if match:
            start, end, described = make(match)
            return Window(start, end, described), (text[:match.start()] + " " + text[match.end():])
    return None, text


def _named_month(m, today: date) -> tuple[datetime, datetime, str]:
    """A month without a year: the latest one that has begun."""
    month = MONTHS[m[1].lower()]
    year = today.year if month <= today.month else today.year - 1
    start, end = _month_window(year, month)
    if m[0].lower().startswith("since"):
        return start, None, f"since {calendar.month_name[month]} {year}"
    return start, end, f"in {calendar.month_name[month]} {year}"


def _last(n: str, unit: str, now: datetime) -> tuple[datetime, None, str]:
    count = _number(n.lower()) or 1
    delta = {"hour": timedelta(hours=count), "day": timedelta(days=count), "week": timedelta(weeks=count),
             "month": timedelta(days=30 * count), "year": timedelta(days=365 * count)}[unit.lower()]
    described = f"{count} {unit.lower()}s" if count != 1 else unit.lower()
    return now - delta, None, f"in the last {described}"


def _since_weekday(name: str, today: date) -> tuple[datetime, None, str]:
    back = (today.weekday() - WEEKDAYS[name.lower()]) % 7
    day = today - timedelta(days=back)
    return _utc(day), None, f"since {name.capitalize()} {day.isoformat()}"


# --- the parse --------------------------------------------------------------------------------------------


def parse_question(question: str, vocab: Vocabulary, now: datetime | None = None) -> Parse:
    """The parse of a question, or `Unsupported` saying which words it did not understand."""
    now = now or datetime.now(UTC)
    text = " ".join(question.strip().split())
    if not text:
        raise Unsupported("the question is empty")
    if _RAG.search(text):
        return Parse(route="rag", shape="rag", query=text)
    found = _SEARCH.match(text)
    if found:
        return Parse(route="search", shape="search", query=(found.group("q") or found.group("q2")).strip(" ?."))
    parse = Parse(route="sql")
    # Quoted phrases are message filters; they are taken out before anything else reads the text.
    parse.contains = [a or b for a, b in re.findall(r'"([^"]{1,200})"|\'([^\']{1,200})\'', text)]
    text = re.sub(r'"[^"]{1,200}"|\'[^\']{1,200}\'', " ", text)
    text = re.sub(r"\b(containing|contains|contain|that mention|mention|mentions|mentioning|with the text|with text|"
                  r"whose message (?:contains|has|holds)|with message)\b", " ", text, flags=re.I) \
        if parse.contains else text
    parse.window, text = extract_window(text, now)
    lower = " " + text.lower().replace("?", " ").replace(",", " ").replace("!", " ") + " "
    lower = re.sub(r"(\w)'s\b", r"\1", lower)
    lower = _shape(parse, lower)
    words = tokens(lower)
    leftover = _filters(parse, words, vocab)
    unknown = [w for w in leftover if w not in STOPWORDS and w not in _CONTENT_OK and not w.isdigit()]
    if unknown:
        raise Unsupported("I do not know what " + ", ".join(f"'{w}'" for w in dict.fromkeys(unknown)) +
                          " means here")
    _check(parse)
    return parse


_GROUP = (r"(?:per|by|for each|for every|each|across|broken down by|break(?:down)? by|grouped by|group by|"
          r"split by|for all)")
_DIM = "|".join(sorted((re.escape(w) for w in DIMENSION_WORDS), key=len, reverse=True))


def _shape(parse: Parse, text: str) -> str:
    """Read the shape (how many, per X, top N X, which X most, first/last, list) and remove those words."""
    def take(pattern: str) -> re.Match | None:
        nonlocal text
        match = re.search(pattern, text)
        if match:
            text = text[:match.start()] + " " + text[match.end():]
        return match

    # Catalog lookups: who owns billing, which department runs nova, how critical is billing.
    if take(r"\b(who (?:owns|runs|is responsible for|to call for|should i call about)|owner of|owners of|"
            r"contact for|email of the owner of|who is the owner of)\b"):
        parse.shape, parse.catalog_field = "catalog", "owner_email"
        return text
    if re.search(r"\b(which|what) (department|team)\b", text) and not re.search(r"\b(most|least|how many|count)\b", text) \
            and not re.search(_GROUP + r" (department|team)s?\b", text):
        take(r"\b(which|what) (department|team)s?( (owns|runs|is responsible for|does|do))?\b")
        take(r"\b(belong|belongs|belong to|belongs to|owned by|run by|runs)\b")
        parse.shape, parse.catalog_field = "catalog", "department"
        return text
    if take(r"\bhow critical is\b|\b(what is|what's) the criticality of\b|\bcriticality of\b"):
        parse.shape, parse.catalog_field = "catalog", "criticality"
        return text

    # Subject: templates or sources counted instead of lines.
    if re.search(r"\bhow many (distinct |different |unique )?(templates|message patterns|patterns)\b", text):
        take(r"\bhow many (distinct |different |unique )?(templates|message patterns|patterns)\b")
        parse.subject, parse.shape = "templates", "count"
    elif re.search(r"\bhow many (distinct |different |unique )?(sources|systems|services)\b", text) \
            and not re.search(_GROUP, text):
        take(r"\bhow many (distinct |different |unique )?(sources|systems|services)\b")
        parse.subject, parse.shape = "sources", "count"

    # Top N / which X most / most common X.
    # Up to three filter words may sit before the dimension ("top 5 error templates"): they go back to the
    # text for the filter pass.
    top = take(rf"\b(?:the )?(top|bottom) {_NUM}? ?(?:most )?(?:(?:common|frequent|active|noisy|noisiest) )?"
               rf"(?P<mid>(?:[a-z0-9_.&-]+ ){{0,3}}?)({_DIM})\b")
    if top:
        parse.shape = "top"
        parse.limit = _number(top.group(2)) if top.group(2) else 5
        parse.ascending = top.group(1) == "bottom"
        parse.group_by = [DIMENSION_WORDS[top.group(4)]]
        text = text + " " + top.group("mid")
        take(r"\b(by|with the most|with most|by number of|by count of|ranked by)\b")
    else:
        which = take(rf"\b(which|what) {_NUM}? ?({_DIM})\b(?P<rest>.*?)\b(the )?(most|least|fewest|highest|"
                     r"lowest|largest|smallest|biggest|greatest)\b( number of| amount of| count of)?")
        common = None if which else take(
            rf"\b(?:the )?(?:{_NUM} )?(?:most|least) (common|frequent|active|noisy|seen|logged) "
            rf"(?P<mid>(?:[a-z0-9_.&-]+ ){{0,3}}?)({_DIM})\b")
        busiest = None if which or common else take(rf"\b(?:the )?(busiest|noisiest|quietest) ({_DIM})\b")
        if which:
            parse.shape, parse.group_by = "top", [DIMENSION_WORDS[which.group(3)]]
            parse.limit = _number(which.group(2)) if which.group(2) else 1
            parse.ascending = which.group(6) in ("least", "fewest", "lowest", "smallest")
            text = text + " " + which.group("rest")
        elif common:
            parse.shape, parse.group_by = "top", [DIMENSION_WORDS[common.group(4)]]
            parse.limit = _number(common.group(1)) if common.group(1) else (
                5 if common.group(4).endswith("s") else 1)
            parse.ascending = " least " in f" {common.group(0)} "
            text = text + " " + common.group("mid")
        elif busiest:
            parse.shape, parse.group_by = "top", [DIMENSION_WORDS[busiest.group(2)]]
            parse.limit = 1
            parse.ascending = busiest.group(1) == "quietest"

    # First / last occurrence.
    text = _occurrence(parse, text)

    # List: show the last N errors.
    if parse.shape not in ("top", "first", "last"):
        listing = take(rf"\b(show|list|give me|display|print)( me)?( the)? (last|latest|most recent|newest|first|"
                       rf"earliest|oldest)? ?{_NUM}?\b")
        if listing and (listing.group(4) or listing.group(5)):
            parse.shape = "list"
            parse.limit = _number(listing.group(5)) if listing.group(5) else 10
            parse.ascending = listing.group(4) in ("first", "earliest", "oldest")
        elif listing and not re.search(r"\b(how many|number of|count|counts|total)\b", text):
            parse.shape = "list"  # "list errors from billing": the latest ten, unless a breakdown follows
            parse.limit = 10

    # Group by: per source, by month, for each department, monthly, breakdown of labels, label breakdown.
    while True:
        group = (take(rf"\b{_GROUP} ({_DIM})(?: (?:and|&|then by|and by) ({_DIM}))?\b")
                 or take(r"\b(monthly|daily|hourly|yearly)\b")
                 or take(rf"\b(?:breakdown|distribution|split|spread|mix) of (?:the )?(?:lines |logs )?({_DIM})\b")
                 or take(rf"\b({_DIM}) (?:breakdown|distribution|split|mix)\b")
                 or take(rf"^\s*({_DIM}) (?=with (?:more|fewer|less|over|under) )"))
        if not group:
            break
        for word in filter(None, group.groups()):
            dimension = DIMENSION_WORDS[word]
            if dimension not in parse.group_by:
                parse.group_by.append(dimension)
        if parse.shape in ("count", "list"):
            parse.shape = "breakdown"
    if parse.group_by and parse.shape in ("count", "list"):
        parse.shape = "breakdown"
    having = take(r"\b(more|greater|higher|over|above|fewer|less|lower|under|below) (than )?(\d+)\b")
    if having:
        if not parse.group_by:
            raise Unsupported("'more/fewer than N' needs a breakdown to compare (per source, per month, …)")
        parse.having = (">" if having.group(1) in ("more", "greater", "higher", "over", "above") else "<",
                        int(having.group(3)))
    return text


_FIRST = re.compile(r"\b(when (?:did|was|were|is|has) (?:the )?(?:first|earliest)|first (?:time|occurrence|seen|"
                    r"appearance)|earliest|oldest|when .* (?:first|start|started|begin|began))\b")
_LAST = re.compile(r"\b(when (?:did|was|were|is|has) (?:the )?(?:last|latest|most recent)|last (?:time|occurrence|"
                   r"seen)|most recent|latest|newest|when .* last)\b")
_WHEN = re.compile(r"\bwhen\b")


def _occurrence(parse: Parse, text: str) -> str:
    """First / last occurrence ("when did X first happen", "most recent Y"); returns the text without it."""
    if parse.shape == "top":
        return text
    if re.search(r"\b(show|list|give me|display|print)\b", text) and not _WHEN.search(text):
        return text
    first, last = _FIRST.search(text), _LAST.search(text)
    if first and not (last and last.start() < first.start()):
        parse.shape = "first"
    elif last:
        parse.shape = "last"
    elif _WHEN.search(text) and not re.search(r"\bhow many\b", text):
        raise Unsupported("'when' without first or last: ask when it first or last happened")
    if parse.shape in ("first", "last"):  # the other words of these phrases are stopwords
        text = re.sub(r"\b(start|started|starts|begin|began|begins|appearance|appear|appeared|appears)\b", " ", text)
    return text


def _filters(parse: Parse, words: list[str], vocab: Vocabulary) -> list[str]:
    """Match filter values (longest phrase first); returns the words no pass understood."""
    leftover: list[str] = []
    found: dict[tuple[str, bool], list[str]] = {}
    negate_next = False
    sticky: str | None = None  # "excluding apache and nova": the negation covers the whole list
    i = 0
    while i < len(words):
        word = words[i]
        if sticky and word in ("and", "or", "nor", "&"):
            i += 1
            continue
        if word in ("not", "except", "excluding", "without", "non", "other"):
            if word == "other" and i + 1 < len(words) and words[i + 1] == "than":
                i += 1
            negate_next = True
            i += 1
            continue
        if word in ("template", "pattern") and i + 1 < len(words) and ":" in words[i + 1]:
            found.setdefault(("template", negate_next), []).append(words[i + 1])
            negate_next = False
            i += 2
            continue
        if ":" in word and word.split(":")[0] in {s.lower() for s in vocab.values.get("source", [])} \
                and word.split(":")[1].isdigit():
            found.setdefault(("template", negate_next), []).append(_template_id(word, vocab))
            negate_next = False
            i += 1
            continue
        if word in ("component", "logger", "program") and i + 1 < len(words):
            found.setdefault(("component", negate_next), []).append(words[i + 1])
            negate_next = False
            i += 2
            continue
        terms = vocab.longest_at(words, i)
        if terms:
            term = _preferred(terms, parse)
            negated = negate_next or sticky == term.dimension
            values = found.setdefault((term.dimension, negated), [])
            if term.value not in values:
                values.append(term.value)
            sticky = term.dimension if negated else None
            negate_next = False
            i += len(term.phrase)
            continue
        sticky = None
        leftover.append(word)
        i += 1
    for (dimension, negated), values in found.items():
        parse.filters.append(Filter(dimension, values, negated))
    if parse.shape == "catalog":
        systems = [f for f in parse.filters if f.dimension == "source" and not f.negated]
        if len(parse.filters) != 1 or not systems:
            raise Unsupported("name one system to look up in the system catalog")
    return leftover


def _template_id(word: str, vocab: Vocabulary) -> str:
    source, n = word.split(":", 1)
    exact = {s.lower(): s for s in vocab.values.get("source", [])}
    return f"{exact.get(source, source)}:{n}"


def _preferred(terms: list[Term], parse: Parse) -> Term:
    """Among values named by the same phrase, the one whose dimension is grouped (per label + 'errors' means
    the level) or else the first by priority."""
    return min(terms, key=lambda t: _PRIORITY.index(t.dimension) if t.dimension in _PRIORITY else len(_PRIORITY))


def _check(parse: Parse) -> None:
    if parse.shape == "list" and parse.group_by:
        raise Unsupported("a list of lines cannot also be broken down; ask for one or the other")
    if parse.subject != "logs" and parse.group_by and parse.subject == "sources":
        raise Unsupported("counting sources per something is not supported")
    if parse.subject == "templates" and any(f.dimension in _CATALOG or f.dimension == "level"
                                            for f in parse.filters):
        raise Unsupported("templates can be counted per source or label only")
    if len(parse.group_by) > 2:
        raise Unsupported("at most two breakdowns at once")


# --- SQL ----------------------------------------------------------------------------------------------


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ts(value: datetime) -> str:
    return f"TIMESTAMPTZ '{value.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}+00'"


def where_clauses(parse: Parse, alias: str = "l") -> list[str]:
    clauses = []
    for f in parse.filters:
        column = _FILTER_SQL[f.dimension] if alias == "l" else _FILTER_SQL[f.dimension].replace("l.", f"{alias}.")
        values = ", ".join(_literal(v) for v in f.values)
        if f.dimension == "component":
            clauses.append(f"{'NOT ' if f.negated else ''}lower({column}) IN ({values})")
        elif len(f.values) == 1:
            clauses.append(f"{column} {'<>' if f.negated else '='} {values}")
        else:
            clauses.append(f"{column} {'NOT IN' if f.negated else 'IN'} ({values})")
    if parse.window:
        if parse.window.start:
            clauses.append(f"{alias}.ts >= {_ts(parse.window.start)}")
        if parse.window.end:
            clauses.append(f"{alias}.ts < {_ts(parse.window.end)}")
    for phrase in parse.contains:
        escaped = phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(f"{alias}.message ILIKE {_literal('%' + escaped + '%')} ESCAPE '\\'")
    return clauses


def build_sql(parse: Parse) -> str:
    """The SQL for a parse with route `sql`."""
    if parse.shape == "catalog":
        system = parse.filters[0].values
        return (f"SELECT system_name, {parse.catalog_field} FROM system_catalog WHERE system_name IN "
                f"({', '.join(_literal(v) for v in system)}) ORDER BY system_name")
    if parse.subject == "templates":
        clauses = [c.replace("l.source", "source").replace("l.label", "label").replace("l.template_id", "template_id")
                   for c in where_clauses(parse) if not c.startswith(("l.ts", "l.message"))]
        if parse.window or parse.contains:
            raise Unsupported("templates are counted over all time; ask about lines for a time window")
        keys = [_DIMENSION_SQL[d][1] for d in parse.group_by]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        if keys:
            return (f"SELECT {', '.join(keys)}, count(*) AS templates FROM templates{where} GROUP BY ALL "
                    f"ORDER BY templates DESC, {', '.join(keys)}")
        return f"SELECT count(*) AS templates FROM templates{where}"
    dims = parse.group_by
    needs_catalog = any(d in _CATALOG for d in dims) or any(f.dimension in _CATALOG for f in parse.filters)
    joins = " LEFT JOIN system_catalog c ON c.system_name = l.source" if needs_catalog else ""
    if "template" in dims:
        joins += " LEFT JOIN templates t ON t.template_id = l.template_id"
    clauses = where_clauses(parse)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    source = f"FROM logs_labelled l{joins}{where}"
    if parse.subject == "sources":
        return f"SELECT count(DISTINCT l.source) AS sources {source}"
    if parse.shape == "first" or parse.shape == "last":
        fn = "min" if parse.shape == "first" else "max"
        return f"SELECT {fn}(l.ts) AS {parse.shape}_seen, count(*) AS lines {source}"
    if parse.shape == "list":
        order = "ASC" if parse.ascending else "DESC"
        return (f"SELECT l.ts, l.source, l.level, l.label, l.message {source} "
                f"ORDER BY l.ts {order}, l.log_id LIMIT {parse.limit}")
    if not dims:
        return f"SELECT count(*) AS lines {source}"
    selects, keys = [], []
    for d in dims:
        expr, name = _DIMENSION_SQL[d]
        selects.append(f"{expr} AS {name}")
        keys.append(name)
        if d == "template":
            selects.append("any_value(t.template) AS template")
    having = f" HAVING count(*) {parse.having[0]} {parse.having[1]}" if parse.having else ""
    group = f"GROUP BY ALL{having}"  # by the select list's keys: aliases could be ambiguous after a join
    if parse.shape == "top":
        direction = "ASC" if parse.ascending else "DESC"
        order = f"ORDER BY lines {direction}, {', '.join(keys)}"
        return f"SELECT {', '.join(selects)}, count(*) AS lines {source} {group} {order} LIMIT {parse.limit}"
    time_first = [k for d, k in zip(dims, keys, strict=True) if d in _TIME_DIMENSIONS]
    if time_first and len(dims) == 1:
        order = f"ORDER BY {keys[0]}"
    else:
        order = f"ORDER BY {', '.join(time_first)}{', ' if time_first else ''}lines DESC, " \
                f"{', '.join(k for k in keys if k not in time_first)}".rstrip(", ")
    return f"SELECT {', '.join(selects)}, count(*) AS lines {source} {group} {order}"


# --- the sentence -----------------------------------------------------------------------------------------


def describe_filters(parse: Parse) -> str:
    parts = []
    level = next((f for f in parse.filters if f.dimension == "level"), None)
    label = next((f for f in parse.filters if f.dimension == "label"), None)
    noun = "lines"
    if level:
        noun = f"{'non-' if level.negated else ''}{'/'.join(level.values)} lines"
    if label:
        noun = f"{noun} labelled {' or '.join(label.values)}" if not label.negated else \
            f"{noun} not labelled {' or '.join(label.values)}"
    for f in parse.filters:
        if f.dimension in ("level", "label"):
            continue
        joined = " or ".join(f.values)
        phrase = {"source": f"from {joined}", "department": f"from {joined} systems",
                  "criticality": f"from systems of {joined} criticality", "template": f"of template {joined}",
                  "component": f"from component {joined}"}[f.dimension]
        parts.append(("not " if f.negated else "") + phrase)
    for phrase in parse.contains:
        parts.append(f"containing '{phrase}'")
    if parse.window:
        parts.append(parse.window.text)
    return " ".join([noun, *parts])


def sentence(parse: Parse, columns: list[str], rows: list[list]) -> str:
    """The answer in a sentence, from the rows the SQL returned."""
    what = describe_filters(parse)
    if parse.shape == "catalog":
        if not rows:
            return "That system is not in the system catalog."
        field_name = {"owner_email": "owned by", "department": "run by", "criticality": "of criticality"}[
            parse.catalog_field]
        return "; ".join(f"{r[0]} is {field_name} {r[1]}" for r in rows) + "."
    if parse.subject == "templates":
        if parse.group_by:
            return f"Templates per {', '.join(parse.group_by)}: {len(rows)} groups."
        return f"There are {rows[0][0]:,} templates{' ' + what[6:] if what != 'lines' else ''}."
    if parse.subject == "sources":
        return f"{rows[0][0]:,} sources logged {what}."
    if parse.shape in ("first", "last"):
        when, n = rows[0]
        if not n:
            return f"No {what} found."
        return f"The {'first' if parse.shape == 'first' else 'last'} of {n:,} {what} was at {when}."
    if parse.shape == "list":
        return f"The {'first' if parse.ascending else 'last'} {len(rows)} {what}." if rows else f"No {what}."
    if not parse.group_by:
        return f"There were {rows[0][0]:,} {what}."
    if not rows:
        return f"No {what}."
    if parse.shape == "top":
        key = rows[0][:-1]
        label = " / ".join(str(k) for k in key[:1 if 'template' not in parse.group_by else 2])
        if parse.limit == 1:
            return f"{label} has the {'fewest' if parse.ascending else 'most'} {what}: {rows[0][-1]:,}."
        return (f"Top {len(rows)} {parse.group_by[0]}s by {what}: "
                + ", ".join(f"{r[0]} ({r[-1]:,})" for r in rows) + ".")
    total = sum(r[-1] for r in rows)
    return f"{total:,} {what}, per {' and '.join(parse.group_by)} ({len(rows)} groups)."
