"""Run logs as a team reads them: per seed, capped per seed (end kept) and per attempt."""

from __future__ import annotations

import pytest

from competition.run_logs import compose_logs, tail


def test_compose_logs_groups_seeds_that_printed_the_same():
    text = compose_logs([2, 0, 1], ["b", "a", "a"])
    assert text == "== seeds 0-1 ==\na\n== seed 2 ==\nb\n"


def test_compose_logs_keeps_the_end_of_a_long_seed_and_caps_the_total():
    text = compose_logs([0, 1], ["x" * 50 + "Traceback: boom", "y" * 100], per_seed=20, total=90)
    assert "[… 45 earlier characters cut]" in text and "Traceback: boom" in text
    assert text.endswith("[… logs cut at 90 characters]\n")


def test_compose_logs_is_empty_when_nothing_was_printed_and_checks_lengths():
    assert compose_logs([0, 1], ["", "\n"]) == ""
    with pytest.raises(ValueError, match="2 seeds but 1 excerpts"):
        compose_logs([0, 1], ["a"])
    assert tail("short", 10) == "short"
