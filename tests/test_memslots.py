"""A client's own rate-limit table in Python keeps the shared file's rules (in flight, windows, learned)."""

from __future__ import annotations

import itertools
import random

import pytest

from jmlink_analytics.client._ratelimit import SlotTable


def test_a_slot_is_held_in_flight_then_counted_a_window_from_its_answer():
    table = SlotTable()
    assert table.path is None
    now = [100.0]
    table.clock = lambda: now[0]
    first, *_ = table.try_take("stats", 2, 10.0, 60.0)
    second, *_ = table.try_take("stats", 2, 10.0, 60.0)
    assert first is not None and second is not None
    slot, wait, exact, learned = table.try_take("stats", 2, 10.0, 60.0)
    assert slot is None and (wait, exact, learned) == (10.0, False, None)  # both in flight: their end is unknown
    now[0] = 103.0
    table.answered(first)
    now[0] = 104.0
    slot, wait, exact, _ = table.try_take("stats", 2, 10.0, 60.0)
    assert slot is None and exact and wait == 9.0  # the first answer's window ends at 113
    assert table.try_take("links", 2, 10.0, 60.0)[0] is not None  # endpoints counted apart
    now[0] = 113.0
    assert table.try_take("stats", 2, 10.0, 60.0)[0] is not None


def test_a_refusal_learns_a_window_of_what_the_server_admitted():
    table = SlotTable()
    now = [0.0]
    table.clock = lambda: now[0]
    slots = []
    for _ in range(10):  # 10 calls within a 2-second window of 100 calls
        slot, *_ = table.try_take("stats", 100, 2.0, 60.0)
        slots.append(slot)
        now[0] += 0.1
        table.answered(slot)
    learned, frees = table.refused("stats", slots[-1], 100, 2.0)
    assert learned == 9  # the nine calls before the refused one were admitted
    took = sum(table.try_take("stats", 100, 2.0, 60.0)[0] is not None for _ in range(20))
    assert took == 0  # nine admitted plus the refused call held: the learned window is full
    assert frees > 0
    now[0] += 2.0 + frees
    assert table.try_take("stats", 100, 2.0, 60.0)[0] is not None  # the window is free again


def _replay(table: SlotTable, seed: int) -> list[object]:
    """One random sequence of takes, answers, refusals and clock steps; every answer the table gave."""
    rng = random.Random(seed)
    now = [1000.0]
    table.clock = lambda: now[0]
    seen: list[object] = []
    flying: list[object] = []
    answered: list[object] = []
    for _ in range(600):
        move = rng.random()
        if move < 0.45:
            slot, wait, exact, learned = table.try_take("stats", 12, 5.0, 3.0)
            seen.append(("take", slot is not None, round(wait, 6), exact, learned))
            if slot is not None:
                flying.append(slot)
        elif move < 0.75 and flying:
            slot = flying.pop(rng.randrange(len(flying)))
            table.answered(slot)
            answered.append(slot)
        elif move < 0.82 and answered:
            learned, frees = table.refused("stats", answered[-1], 12, 5.0)
            seen.append(("refused", learned, round(frees, 6)))
        now[0] += rng.choice((0.013, 0.07, 0.31, 1.7))
    return seen


def test_the_python_table_answers_as_the_shared_file_does(tmp_path):
    for seed in range(4):
        memory = _replay(SlotTable(), seed)
        shared = _replay(SlotTable(tmp_path / f"slots-{seed}.sqlite"), seed)
        assert memory == shared
        kinds = {entry[0] for entry in memory}  # type: ignore[index]
        assert kinds == {"take", "refused"}
        assert any(entry[0] == "take" and entry[4] is not None for entry in memory)  # type: ignore[index]
        assert any(entry[0] == "take" and not entry[1] for entry in memory)  # type: ignore[index]


def test_clear_forgets_slots_and_learned_windows():
    table = SlotTable()
    slot, *_ = table.try_take("stats", 1, 60.0, 60.0)
    table.answered(slot)
    table.refused("stats", slot, 1, 60.0)
    assert table.try_take("stats", 1, 60.0, 60.0)[0] is None
    table.clear()
    slot, _, _, learned = table.try_take("stats", 1, 60.0, 60.0)
    assert slot is not None and learned is None


def _small_learned_window(tmp_path, shared: bool) -> tuple[SlotTable, list[float]]:
    """A table (in memory or a file) on a clock of its own where two calls were admitted and the third refused:
    a learned window of 2 calls per 2 s (of 60 configured)."""
    table = SlotTable(tmp_path / "slots.sqlite" if shared else None)
    now = [0.0]
    table.clock = lambda: now[0]
    slots = []
    for _ in range(3):
        slot, *_ = table.try_take("stats", 60, 2.0, 60.0)
        slots.append(slot)
        now[0] += 0.05
        table.answered(slot)
    assert table.refused("stats", slots[-1], 60, 2.0)[0] == 2
    return table, now


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "file"])
def test_a_small_learned_window_doubles_while_every_call_is_admitted(tmp_path, shared):
    # the other machine stopped: no refusal comes, and a window learned at 2 calls must not hold this one to a
    # trickle (it cost a whole window in bench_adaptive); with nothing in flight and no refusal held, it doubles
    table, now = _small_learned_window(tmp_path, shared)
    now[0] += 2.0  # the window is empty again (the refused call's slot too)
    sent = []
    for _ in range(8):  # rounds of: take what the window allows, then every answer comes
        round_ = []
        while (slot := table.try_take("stats", 60, 2.0, 60.0)[0]) is not None:
            round_.append(slot)
        now[0] += 0.05
        for slot in round_:
            table.answered(slot)
        sent.append(len(round_))
    in_window = [sum(sent[:i + 1]) for i in range(len(sent))]
    assert 2 <= in_window[0] <= 4  # the learned window (grown a little in 2 s)
    for before, after in itertools.pairwise(in_window):
        assert after == min(2 * before, 60)  # doubled each round the server admitted every call of the window
    # (the cubic alone grows it about one call a round), and never past the configured 60 within the 2 s


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "file"])
def test_a_learned_window_does_not_grow_while_a_call_is_in_flight_or_refused(tmp_path, shared):
    table, _ = _small_learned_window(tmp_path, shared)
    # the window holds the 2 admitted calls and the refused one: no probe while that refusal is held
    assert table.try_take("stats", 60, 2.0, 60.0)[0] is None
