"""Ranked full-text search over the catalog: an inverted index scored with BM25F.

Documents have three fields, title, tags and body. Each field's term frequency is normalised
by that field's own average length and weighted before BM25 saturation (BM25F), so a word in a
short title outweighs one mention in a long body without letting a title that repeats a word
run away with the score.

Everything that does not depend on the query is computed once, when the engine is built: per
visibility group (the public documents plus those of one campaign) the postings already hold
each document's final BM25F weight for the term. A query is then a few dictionary walks, a
top-k selection and a snippet per hit. Collection statistics (document frequencies, average
field lengths) are computed per group, so a campaign's scores do not depend on documents it
cannot see.

Text analysis, shared by documents and queries:

* raw tokens are runs of letters and digits (combining accents included), optionally joined by
  apostrophes, found in the original text so snippets can point back at it;
* each is folded with NFKC and casefold, then loses Latin accents so "zurich" finds "Zürich",
  and apostrophes, so "artist's" becomes "artists";
* common English words (:data:`STOPWORDS`) are dropped;
* :func:`stem` strips a few English endings.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from nexus_mesh.errors import NexusError
from nexus_search.catalog import Document, load_default_catalog

K1: Final = 1.2
B: Final = 0.75
FIELD_WEIGHTS: Final[Mapping[str, float]] = {"title": 3.0, "tags": 1.5, "body": 1.0}
MAX_QUERY_CHARS: Final = 256
MAX_LIMIT: Final = 50
DEFAULT_LIMIT: Final = 10
SNIPPET_CHARS: Final = 160
ELLIPSIS: Final = "\u2026"

STOPWORDS: Final = frozenset(
    """
    a about after all also am an and any are as at be been before but by can could did do
    does doing for from had has have having he her here hers him his how i if in into is it
    its itself just me more most my no nor not of off on once only or other our ours out over
    own s same she should so some such t than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours
    """.split()  # noqa: SIM905 - a word list is easier to proofread as prose
)

QueryErrorReason = Literal["empty", "too_long", "limit", "invalid"]


class QueryError(NexusError):
    """The request cannot be searched as given; ``reason`` is a stable code for clients.

    Reasons: ``empty`` (blank, or only stopwords and punctuation), ``too_long`` (more than
    :data:`MAX_QUERY_CHARS` characters), ``limit`` (outside 1..:data:`MAX_LIMIT`) and
    ``invalid`` (a query or campaign id that is not a string).
    """

    def __init__(self, reason: QueryErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason: QueryErrorReason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    title: str
    score: float
    snippet: str


# --- text analysis ----------------------------------------------------------------------------

# Combining marks are not word characters to ``re``; keeping the common blocks inside tokens
# means decomposed input ("e" + U+0301) tokenises like its precomposed form.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = rf"(?:[^\W_]|[{_MARKS}])+"
_RAW_TOKEN = re.compile(rf"{_WORD}(?:['\u2019]{_WORD})*")
_PIECE = re.compile(rf"{_WORD}")
_LATIN_ACCENTS = re.compile("[\u0300-\u036f]")
_APOSTROPHES = str.maketrans("", "", "'\u2019")
_VOWELS = frozenset("aeiouy")
# Consonants English doubles before -ing/-ed (stopped, planned); l, s, z, f are left alone
# because "fill", "pass", "buzz", "staff" end in a double letter themselves.
_UNDOUBLE = frozenset("bdgmnprt")


def fold(text: str) -> str:
    """NFKC and casefold, then drop Latin accents; the form words are compared in."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    stripped = _LATIN_ACCENTS.sub("", unicodedata.normalize("NFD", folded))
    return unicodedata.normalize("NFC", stripped)


def stem(word: str) -> str:
    """Strip a few English endings so inflections of a word share one index term.

    In order: plurals (-sses, -ies, -xes/-zes/-ches/-shes, -s but not -ss/-us/-is), then -ing
    or -ed when at least three letters with a vowel remain (undoubling "runn" to "run"), then
    a final -e ("dance", "dancing" and "danced" all become "danc"), a final double l
    ("cancelled"/"cancel") and a y after a consonant ("city"/"cities" -> "citi"). Words of
    three letters or fewer, and words with digits, are left alone. The output is an index key,
    not an English word; stems only ever need to agree with each other.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("sses", "xes", "zes", "ches", "shes")) or (
        word.endswith("ies") and len(word) > 4
    ):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if len(base) >= 3 and not _VOWELS.isdisjoint(base):
                if len(base) >= 4 and base[-1] == base[-2] and base[-1] in _UNDOUBLE:
                    base = base[:-1]
                word = base
            break
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) >= 4 and word.endswith("ll"):
        word = word[:-1]
    if len(word) >= 4 and word.endswith("y") and word[-2] not in _VOWELS:
        word = word[:-1] + "i"
    return word


# Bounded because queries are arbitrary text; a catalog's vocabulary fits many times over.
@functools.lru_cache(maxsize=1 << 14)
def _terms_of(raw: str) -> tuple[str, ...]:
    """Index terms of one raw token (usually one; none for a stopword)."""
    if raw.isascii():
        # NFKC and casefold are the identity/lower() on ASCII, and an ASCII raw token is
        # letters and digits around apostrophes, so it folds to exactly one piece.
        pieces = [raw.lower().translate(_APOSTROPHES)]
    else:
        pieces = _PIECE.findall(fold(raw).translate(_APOSTROPHES))
    return tuple(stem(piece) for piece in pieces if piece not in STOPWORDS)


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _RAW_TOKEN.finditer(text):
        for term in _terms_of(match.group()):
            yield match.start(), match.end(), term


def analyse(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats included."""
    return [term for _, _, term in _spans(text)]


# --- index --------------------------------------------------------------------------------------

_FIELDS: Final = tuple(FIELD_WEIGHTS)


@dataclass(frozen=True, slots=True)
class _DocumentStats:
    """What scoring needs from one document, whichever campaign is searching; build-time only."""

    lengths: tuple[int, ...]  # terms per field, in _FIELDS order
    frequencies: dict[str, tuple[int, ...]]  # term -> occurrences per field


@dataclass(frozen=True, slots=True)
class _BodyTerms:
    """Where each body term sits, so a snippet can be cut around the query's matches."""

    terms: tuple[str, ...]
    offsets: array[int]  # start and end of terms[i] at 2 * i and 2 * i + 1


# term -> (document indexes, their BM25F weights), parallel; a few bytes a posting instead of
# a tuple and a float object each, which matters because every view holds a full copy.
_Postings: TypeAlias = "dict[str, tuple[tuple[int, ...], array[float]]]"


class SearchEngine:
    """An immutable BM25F index over a fixed set of documents; safe to share between tasks."""

    def __init__(self, documents: Iterable[Document]) -> None:
        self._documents = tuple(documents)
        ids = Counter(document.id for document in self._documents)
        duplicates = sorted(doc_id for doc_id, count in ids.items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate document ids: {', '.join(duplicates)}")
        self._bodies: list[_BodyTerms] = []
        stats: list[_DocumentStats] = []
        for document in self._documents:
            body, document_stats = _analyse_document(document)
            self._bodies.append(body)
            stats.append(document_stats)
        public = [i for i, document in enumerate(self._documents) if not document.campaigns]
        self._public = _postings(public, stats)
        campaigns = sorted({c for document in self._documents for c in document.campaigns})
        self._by_campaign = {
            campaign: _postings(
                [i for i, d in enumerate(self._documents) if d.visible_to(campaign)], stats
            )
            for campaign in campaigns
        }

    def __len__(self) -> int:
        return len(self._documents)

    def search(self, query: str, *, campaign_id: str, limit: int = DEFAULT_LIMIT) -> list[Hit]:
        """The best ``limit`` documents visible to ``campaign_id``, by score then id.

        Returns an empty list when nothing matches; raises :class:`QueryError` when the
        request itself is unusable.
        """
        terms = _query_terms(query, campaign_id, limit)
        postings = self._by_campaign.get(campaign_id, self._public)
        scores: dict[int, float] = {}
        # Sorted terms fix the order of the float additions, so equal queries written in a
        # different word order score identically.
        for term in terms:
            found = postings.get(term)
            if found is not None:
                for doc, weight in zip(*found, strict=True):
                    scores[doc] = scores.get(doc, 0.0) + weight
        # Rank on the rounded score clients see, so equal visible scores are ordered by id.
        best = heapq.nsmallest(
            limit,
            ((-round(score, 4), self._documents[doc].id, doc) for doc, score in scores.items()),
        )
        wanted = frozenset(terms)
        return [
            Hit(
                id=self._documents[doc].id,
                title=self._documents[doc].title,
                score=-negated,
                snippet=self._snippet(doc, wanted),
            )
            for negated, _, doc in best
        ]

    def _snippet(self, doc: int, terms: frozenset[str]) -> str:
        body = self._documents[doc].body
        located = self._bodies[doc]
        offsets = located.offsets
        spans = [
            (offsets[2 * i], offsets[2 * i + 1], term)
            for i, term in enumerate(located.terms)
            if term in terms
        ]
        if not spans:
            return _excerpt(body, 0, 0)
        first, last = _densest_window(spans, SNIPPET_CHARS)
        return _excerpt(body, first, last)


def _analyse_document(document: Document) -> tuple[_BodyTerms, _DocumentStats]:
    body_spans = list(_spans(document.body))
    fields = {
        "title": analyse(document.title),
        "tags": [term for tag in document.tags for term in analyse(tag)],
        "body": [term for _, _, term in body_spans],
    }
    counts = {field: Counter(fields[field]) for field in _FIELDS}
    vocabulary = dict.fromkeys(term for field in _FIELDS for term in fields[field])
    body = _BodyTerms(
        terms=tuple(fields["body"]),
        offsets=array("I", (offset for start, end, _ in body_spans for offset in (start, end))),
    )
    stats = _DocumentStats(
        lengths=tuple(len(fields[field]) for field in _FIELDS),
        frequencies={term: tuple(counts[field][term] for field in _FIELDS) for term in vocabulary},
    )
    return body, stats


def _postings(members: list[int], stats: list[_DocumentStats]) -> _Postings:
    """BM25F weights of every (term, document) pair, with statistics over ``members`` only."""
    count = len(members)
    if not count:
        return {}
    averages = [sum(stats[doc].lengths[f] for doc in members) / count for f in range(len(_FIELDS))]
    frequency = Counter(term for doc in members for term in stats[doc].frequencies)
    # Lucene's IDF: never negative, so a term in most documents still counts a little.
    idf = {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}
    collected: dict[str, tuple[list[int], array[float]]] = {}
    for doc in members:
        # Field weight over the field's length normalisation, folded into one factor per field.
        factors = [
            FIELD_WEIGHTS[field] / (1 - B + B * length / average) if average else 0.0
            for field, length, average in zip(_FIELDS, stats[doc].lengths, averages, strict=True)
        ]
        for term, tfs in stats[doc].frequencies.items():
            pseudo_tf = sum(tf * factor for tf, factor in zip(tfs, factors, strict=True))
            docs, weights = collected.setdefault(term, ([], array("d")))
            docs.append(doc)
            weights.append(idf[term] * pseudo_tf * (K1 + 1) / (pseudo_tf + K1))
    return {term: (tuple(docs), weights) for term, (docs, weights) in collected.items()}


def _query_terms(query: object, campaign_id: object, limit: object) -> list[str]:
    # Types are checked at run time too: requests come from decoded JSON.
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    if not isinstance(query, str):
        raise QueryError("invalid", "query must be a string")
    if not isinstance(campaign_id, str):
        raise QueryError("invalid", "campaign_id must be a string")
    # Checked before any analysis: NFKC can expand a character many times over.
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            "too_long", f"query is {len(query)} characters long; the maximum is {MAX_QUERY_CHARS}"
        )
    terms = sorted(set(analyse(query)))
    if not terms:
        if query.strip():
            message = "query has only common words or punctuation; add a more specific word"
        else:
            message = "query is empty"
        raise QueryError("empty", message)
    return terms


# --- snippets -----------------------------------------------------------------------------------


def _densest_window(spans: list[tuple[int, int, str]], width: int) -> tuple[int, int]:
    """Start of the first and end of the last match in the best ``width``-character window.

    Best means the most distinct query terms, then the most matches, then the earliest.
    """
    counts: dict[str, int] = {}
    best_key = (0, 0)
    best_first = best_last = 0
    j = 0
    for i, (start, _, term) in enumerate(spans):
        if j <= i:
            # A window always holds its first match, even one longer than the width.
            counts = {term: 1}
            j = i + 1
        while j < len(spans) and spans[j][1] - start <= width:
            counts[spans[j][2]] = counts.get(spans[j][2], 0) + 1
            j += 1
        key = (len(counts), j - i)
        if key > best_key:
            best_key, best_first, best_last = key, start, spans[j - 1][1]
        remaining = counts[term] - 1
        if remaining:
            counts[term] = remaining
        else:
            del counts[term]
    return best_first, best_last


def _excerpt(text: str, first: int, last: int, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around [first, last), cut between words."""
    slack = max(0, width - (last - first))
    # Matches that fit in the opening lines are best shown from the start of the text.
    start = 0 if last <= width else max(0, first - slack // 3)
    end = min(len(text), max(last, start + width))
    # Near the end of the text, spend the unused width on context before the match.
    start = max(0, min(start, end - width))
    if start > 0 and not text[start - 1].isspace():
        start = next((k + 1 for k in range(start, first) if text[k].isspace()), first)
    if end < len(text) and not text[end].isspace():
        end = next((k for k in range(end - 1, last - 1, -1) if text[k].isspace()), last)
    excerpt = " ".join(text[start:end].split())
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    return f"{prefix}{excerpt}{suffix}"


# --- the shipped catalog ------------------------------------------------------------------------


@functools.cache
def default_engine() -> SearchEngine:
    """The engine over the shipped catalog, built on first use; call it at start-up to warm."""
    return SearchEngine(load_default_catalog())


def search(query: str, *, campaign_id: str, limit: int = DEFAULT_LIMIT) -> list[Hit]:
    """Search the shipped catalog; see :meth:`SearchEngine.search`."""
    return default_engine().search(query, campaign_id=campaign_id, limit=limit)
