"""Text analysis: the same folding, stopwords and stemming apply to documents and queries."""

from __future__ import annotations

import pytest

from nexus_search.engine import STOPWORDS, analyse, fold, stem


@pytest.mark.parametrize(
    ("inflected", "plain"),
    [
        ("concerts", "concert"),
        ("matches", "match"),
        ("boxes", "box"),
        ("classes", "class"),
        ("cities", "city"),
        ("movies", "movie"),
        ("venues", "venue"),
        ("booking", "book"),
        ("booked", "book"),
        ("dancing", "dance"),
        ("danced", "dance"),
        ("running", "run"),
        ("stopped", "stop"),
        ("cancelled", "cancel"),
        ("scheduled", "schedule"),
        ("playing", "play"),
        ("buses", "bus"),
    ],
)
def test_inflections_share_a_stem(inflected: str, plain: str) -> None:
    assert stem(inflected) == stem(plain)


@pytest.mark.parametrize("word", ["tennis", "status", "address", "bus", "gas", "a4", "2026"])
def test_words_that_only_look_inflected_are_kept(word: str) -> None:
    assert stem(word) == word


def test_stopwords_and_punctuation_are_not_terms() -> None:
    assert analyse("The, of -- and!? ...") == []
    assert "the" in STOPWORDS
    assert analyse("How do I transfer a ticket?") == [stem("transfer"), stem("ticket")]


def test_case_width_and_accents_fold_to_one_form() -> None:
    forms = ["Zürich", "ZÜRICH", "zurich", "Zu\u0308rich", "\uff3a\uff55\uff52\uff49\uff43\uff48"]
    assert len({tuple(analyse(form)) for form in forms}) == 1
    assert fold("Straße") == "strasse"
    assert fold("\ufb01nal") == "final", "NFKC expands the fi ligature"


def test_apostrophes_join_rather_than_split() -> None:
    assert analyse("the artist's set") == analyse("artist set")
    assert analyse("artist\u2019s") == analyse("artist's")


def test_numbers_and_mixed_tokens_are_kept_whole() -> None:
    assert analyse("Doors at 19:30, A4 bags") == [stem("doors"), "19", "30", "a4", stem("bags")]
