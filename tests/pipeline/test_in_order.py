"""Results leave in submission order, however the inference requests finish."""

from __future__ import annotations

import random
import threading

from screenrecall.pipeline.in_order import InOrder


def test_results_finished_out_of_order_are_released_in_ticket_order() -> None:
    released: list[str] = []
    in_order: InOrder[str] = InOrder(released.append)
    tickets = [in_order.ticket() for _ in range(4)]
    in_order.finish(tickets[2], "c")
    in_order.finish(tickets[1], "b")
    assert released == [] and in_order.waiting == 2
    in_order.finish(tickets[0], "a")
    assert released == ["a", "b", "c"] and in_order.waiting == 0
    in_order.finish(tickets[3], "d")
    assert released == ["a", "b", "c", "d"]


def test_a_job_that_produced_nothing_does_not_hold_back_the_next() -> None:
    released: list[int] = []
    in_order: InOrder[int] = InOrder(released.append)
    first, second = in_order.ticket(), in_order.ticket()
    in_order.finish(second, 2)
    in_order.finish(first, None)
    assert released == [2]


def test_a_failing_hand_over_is_logged_and_later_results_still_go_out() -> None:
    released: list[int] = []

    def release(item: int) -> None:
        if item == 1:
            raise RuntimeError("writer gone")
        released.append(item)

    in_order: InOrder[int] = InOrder(release)
    tickets = [in_order.ticket() for _ in range(3)]
    in_order.finish(tickets[1], 1)
    in_order.finish(tickets[2], 2)
    in_order.finish(tickets[0], 0)
    in_order.finish(tickets[1], None)  # the error path reporting the same job again is ignored
    assert released == [0, 2] and in_order.waiting == 0


def test_results_finished_on_many_threads_come_out_in_order() -> None:
    released: list[int] = []
    in_order: InOrder[int] = InOrder(released.append)
    tickets = [in_order.ticket() for _ in range(400)]
    random.Random(7).shuffle(tickets)

    def finish_all(part: list[int]) -> None:
        for ticket in part:
            in_order.finish(ticket, ticket)

    threads = [threading.Thread(target=finish_all, args=(tickets[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert released == list(range(400))
