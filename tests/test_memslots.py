"""A client's own rate-limit table in Python keeps the shared file's rules (in flight, windows, learned)."""

from __future__ import annotations

import random

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
