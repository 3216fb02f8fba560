"""Unit scalars: durations, sizes and percentages parse, refuse bare numbers, and format back."""

import pytest

from topoform.dsl.units import (
    format_duration, format_size, format_span, parse_duration, parse_percent, parse_size,
)


@pytest.mark.parametrize("text, seconds", [
    ("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600), ("7d", 604800), ("1.5h", 5400), ("0s", 0),
])
def test_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("value, words", [
    (30, "needs a unit"), (1.5, "needs a unit"), ("30", "is not a duration"), ("5 minutes", "is not a duration"),
    ("5min", "is not a duration"), ("-5s", "is not a duration"), (["5s"], "must be a string"), (True, "needs a unit"),
])
def test_bad_durations_say_what_was_written(value, words):
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert words in str(caught.value)
    assert str(value) in str(caught.value) or isinstance(value, list)


@pytest.mark.parametrize("text, size", [
    ("512MiB", 512 * 1024**2), ("20GiB", 20 * 1024**3), ("1TiB", 1024**4), ("500MB", 500 * 10**6),
    ("1GB", 10**9), ("64B", 64), ("1.5GiB", int(1.5 * 1024**3)),
])
def test_sizes_parse_binary_and_decimal_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("value", [512, "512", "512mb", "1 gigabyte", "2XB", None])
def test_bad_sizes_are_refused(value):
    with pytest.raises(ValueError):
        parse_size(value)


def test_percentages_keep_the_written_number_and_stay_within_100():
    assert parse_percent("99.95%") == 99.95
    assert parse_percent("0%") == 0
    with pytest.raises(ValueError, match="at most 100%, but 100.5% was given"):
        parse_percent("100.5%")
    with pytest.raises(ValueError, match="needs a % sign"):
        parse_percent(99.9)


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (0.5, "500ms"), (90, "90s"), (3600, "1h"), (86400, "1d"),
                                           (5400, "90m")])
def test_durations_format_back_to_their_shortest_exact_form(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_sizes_and_spans_format_for_messages():
    assert format_size(512 * 1024**2) == "512MiB"
    assert format_size(1000) == "1000B"
    assert format_span(3723) == "1h 2m 3s"
    assert format_span(0.5) == "0.5s"
