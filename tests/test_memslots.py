"""A client's own rate-limit table in Python keeps the shared file's rules (held in flight, then a window)."""

from __future__ import annotations

from jmlink_analytics.client._ratelimit import SlotTable


def test_a_slot_is_held_in_flight_then_counted_a_window_from_its_answer():
    table = SlotTable()
    assert table.path is None
    now = [100.0]
    table.clock = lambda: now[0]
    first, *_ = table.try_take("stats", 2, 10.0, 60.0)
    second, *_ = table.try_take("stats", 2, 10.0, 60.0)
    assert first is not None and second is not None
    slot, wait, exact, pace = table.try_take("stats", 2, 10.0, 60.0)
    assert slot is None and (wait, exact, pace) == (10.0, False, None)  # both in flight: their end is unknown
    now[0] = 103.0
    table.answered(first)
    now[0] = 104.0
    slot, wait, exact, _ = table.try_take("stats", 2, 10.0, 60.0)
    assert slot is None and exact and wait == 9.0  # the first answer's window ends at 113
    assert table.try_take("links", 2, 10.0, 60.0)[0] is not None  # endpoints counted apart
    now[0] = 113.0
    assert table.try_take("stats", 2, 10.0, 60.0)[0] is not None


def _run(table):
    now = [0.0]
    table.clock = lambda: now[0]
    seen = []
    slots = [table.try_take("stats", 100, 60.0, 60.0)[0] for _ in range(10)]
    seen.append(round(table.refused("stats", slots[-1], 100), 9))
    for _ in range(60):  # paced now: turns a fraction of a second apart
        slot, wait, exact, pace = table.try_take("stats", 100, 60.0, 60.0)
        seen.append((slot is not None, round(wait, 9), exact, None if pace is None else round(pace, 9)))
        now[0] += 0.02
    table.clear()
    seen.append(table.try_take("stats", 100, 60.0, 60.0)[0] is not None)
    return seen


def test_a_refusal_paces_the_endpoint_as_the_shared_file_does(tmp_path):
    memory, shared = _run(SlotTable()), _run(SlotTable(tmp_path / "slots.sqlite"))
    assert memory == shared
    assert 0 < memory[0] < 10 and any(not taken for taken, *_ in memory[1:-1]) and memory[-1]
