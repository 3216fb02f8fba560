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


@pytest.mark.parametrize("text, seconds", [
    ("2h30m", 9000), ("1h30m", 5400), ("1m30s", 90), ("1d12h", 129600), ("1s500ms", 1.5),
    ("2h 20m", 8400), ("1h 2m 3s", 3723), ("1.5h30m", 7200),
])
def test_compound_durations_parse_as_go_and_terraform_write_them(text, seconds):
    assert parse_duration(text) == seconds


def test_every_span_topoform_prints_reads_back():
    for seconds in (61, 3723, 8400, 93784, 14 * 86400 + 1):
        assert parse_duration(format_span(seconds)) == seconds


@pytest.mark.parametrize("value, hint", [("30m2h", "did you mean '2h30m'?"), ("1h1h", None), ("5s1m", "'1m5s'")])
def test_compound_durations_want_each_unit_once_largest_first(value, hint):
    with pytest.raises(ValueError, match="each unit once, the largest first") as caught:
        parse_duration(value)
    if hint is None:
        assert "did you mean" not in str(caught.value)
    else:
        assert hint in str(caught.value)


@pytest.mark.parametrize("value, meant", [
    ("5min", "5m"), ("10 seconds", "10s"), ("2hours", "2h"), ("1 day", "1d"), ("2w", "14d"), ("250msec", "250ms"),
    ("1.5hrs", "1.5h"),
])
def test_a_unit_written_another_way_gets_the_form_meant(value, meant):
    with pytest.raises(ValueError, match="is not a duration") as caught:
        parse_duration(value)
    message, _, hint = str(caught.value).partition("\n")
    assert hint == f"did you mean '{meant}'?"
    assert parse_duration(meant) > 0


@pytest.mark.parametrize("value", ["5M", "5 fortnights", "soon", "-5s"])
def test_no_guess_where_the_meaning_is_unclear(value):
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize("value, hint", [
    ("100G", "did you mean '100GiB' (binary) or '100GB' (decimal)?"), ("512m", "did you mean '512MiB' (binary) or '512MB' (decimal)?"),
    ("2gb", "did you mean '2GB'?"), ("5Gi", "did you mean '5GiB'?"), ("10mib", "did you mean '10MiB'?"),
    ("1 gigabyte", "did you mean '1GB'?"), ("1 gibibyte", "did you mean '1GiB'?"), ("64 bytes", "did you mean '64B'?"),
])
def test_a_size_unit_written_another_way_gets_binary_and_decimal_hints(value, hint):
    with pytest.raises(ValueError, match="is not a size") as caught:
        parse_size(value)
    assert str(caught.value).partition("\n")[2] == hint


def test_no_size_guess_for_an_unknown_unit():
    with pytest.raises(ValueError) as caught:
        parse_size("2XB")
    assert "\n" not in str(caught.value)
