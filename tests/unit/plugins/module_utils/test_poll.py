"""The shared poll helper: every wait of the collection runs through it (issue 10)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import (
    BACKOFF,
    JITTER,
    PollOutcome,
    PollSample,
    pauses,
    poll_until,
    seconds,
)


class NoAnswer(Exception):
    """Like UnreachableError: no status code."""

    status = None


class ErrorAnswer(Exception):
    """Like ServerError: the service answered, with an error status."""

    def __init__(self, status: int):
        super().__init__(f"answered {status}")
        self.status = self.code = status


class Script:
    """fetch(wait) that plays a list of values/exceptions (the last one repeats) and records each wait."""

    def __init__(self, *items: Any, delay: float = 0.0):
        self.items = list(items)
        self.delay = delay
        self.waits: list[float] = []

    def __call__(self, wait: float) -> Any:
        self.waits.append(wait)
        item = self.items.pop(0) if len(self.items) > 1 else self.items[0]
        if self.delay:
            time.sleep(min(self.delay, wait))
            if self.delay > wait:
                raise NoAnswer(f"did not answer within {seconds(wait)}")
        if isinstance(item, BaseException):
            raise item
        return item


def test_each_poll_may_wait_for_what_is_left_of_the_budget():
    fetch = Script("no", "no", "no", "yes")
    outcome = poll_until(fetch, lambda v: v == "yes", timeout=10, interval=0.05)
    assert outcome.done and outcome.attempts == 4
    assert fetch.waits[0] == pytest.approx(10, abs=0.05)
    assert fetch.waits == sorted(fetch.waits, reverse=True), "the wait shrinks with the budget, no fixed cap"
    assert all(w > 9.5 for w in fetch.waits)


def test_an_answer_slower_than_any_fixed_cap_is_seen():
    """2 s answers under a 5 s budget: the wait ends with the answer instead of burning the budget."""
    fetch = Script("healthy", delay=0.6)
    started = time.monotonic()
    outcome = poll_until(fetch, lambda v: v == "healthy", timeout=2, interval=0.05)
    assert outcome.done and outcome.attempts == 1
    assert outcome.samples[0].latency >= 0.6 and time.monotonic() - started < 1.5


def test_the_last_poll_still_gets_the_minimum_wait():
    fetch = Script("no")
    outcome = poll_until(fetch, lambda v: False, timeout=0.2, interval=0.05, min_wait=0.75)
    assert not outcome.done
    assert fetch.waits[-1] == 0.75
    assert outcome.elapsed >= 0.2


def test_the_last_poll_gets_as_long_as_the_service_has_been_taking():
    """A 0.4 s service polled with 0.1 s left: the last look waits for the answer instead of timing out."""
    fetch = Script("unhealthy", delay=0.4)
    outcome = poll_until(fetch, lambda v: False, timeout=0.5, interval=0.05, min_wait=0.1)
    # 1.5 times the answer before it took: 0.6 s, or a little more when this machine's sleep of 0.4 s ran long.
    assert fetch.waits[-1] == pytest.approx(1.5 * outcome.samples[-2].latency, abs=0.005)
    assert fetch.waits[-1] >= 0.6
    assert all(sample.answered for sample in outcome.samples)
    assert outcome.value == "unhealthy"


def test_transient_errors_are_samples_and_polling_goes_on():
    fetch = Script(NoAnswer("refused"), ErrorAnswer(503), "yes")
    seen: list[PollSample] = []
    outcome = poll_until(fetch, lambda v: v == "yes", timeout=5, interval=0.01, transient=(NoAnswer, ErrorAnswer),
                         on_sample=seen.append)
    assert outcome.done and outcome.value == "yes"
    assert [s.answered for s in seen] == [False, True, True]
    assert seen[0].error == "refused" and seen[2].error is None
    assert (outcome.answered, outcome.unanswered) == (2, 1)


def test_other_errors_end_the_wait_at_once():
    with pytest.raises(KeyError):
        poll_until(Script(KeyError("token rejected")), lambda v: True, timeout=5, interval=0.01,
                   transient=(NoAnswer,))


def test_last_read_skips_errors():
    outcome = poll_until(Script({"n": 1}, NoAnswer("x")), lambda v: False, timeout=0.1, interval=0.02,
                         transient=(NoAnswer,), min_wait=0.01)
    assert isinstance(outcome.value, NoAnswer)
    assert outcome.last_read == {"n": 1}


def _outcome(*samples: tuple[float, Any], elapsed: float = 90.0) -> PollOutcome:
    built = [PollSample(i, latency, value, not isinstance(value, BaseException) or hasattr(value, "code"))
             for i, (latency, value) in enumerate(samples)]
    return PollOutcome(built, False, elapsed)


@pytest.mark.parametrize(
    "samples, expected",
    [
        # slow: every poll answered, after 5 s each
        ([(5.02, "degraded")] * 3, "3 polls in 90s: all answered, the last after 5s"),
        # down: no answer at all
        ([(0.0, NoAnswer("connection refused"))] * 2, "2 polls in 90s: none answered; 2 got no answer (last: "
                                                      "connection refused)"),
        # both: answered until it stopped answering
        ([(0.01, "unhealthy"), (2.5, ErrorAnswer(503)), (30.0, NoAnswer("did not answer within 30s"))],
         "3 polls in 90s: 2 answered, the last after 2.5s; 1 got no answer (last: did not answer within 30s)"),
        ([(0.2, "x")], "1 poll in 90s: all answered, the last after 0.2s"),
    ],
    ids=["slow", "down", "mixed", "single"],
)
def test_describe_tells_slow_from_down(samples, expected):
    assert _outcome(*samples).describe() == expected


def test_summary_numbers():
    outcome = _outcome((1.234, "a"), (0.0, NoAnswer("x")), elapsed=3.5)
    assert outcome.summary() == {"polls": 2, "answered": 1, "unanswered": 1, "last_answer_seconds": 1.234,
                                 "elapsed": 3.5}
    assert _outcome((0.0, NoAnswer("x")), elapsed=1).summary()["last_answer_seconds"] is None


@pytest.mark.parametrize("value, shown", [(54.9969, "55s"), (2.5, "2.5s"), (0.2, "0.2s"), (600, "600s")])
def test_seconds(value, shown):
    assert seconds(value) == shown


def _first(count: int, gaps: Any) -> list[float]:
    return [round(next(gaps), 6) for _gap in range(count)]


def test_pauses_back_off_to_the_maximum_and_never_past_it():
    """Issue 21: 0.5 s, then half as long again each time, up to the maximum; the longest pause is how late a
    recovery is seen by polling."""
    assert _first(6, pauses(0.5, 2.0, rand=lambda: 0.0)) == [0.5, 0.75, 1.125, 1.6875, 2.0, 2.0]
    jittered = _first(200, pauses(0.5, 2.0))
    assert all(0.5 * (1 - JITTER) <= gap <= 2.0 for gap in jittered)
    assert len({round(gap, 3) for gap in jittered[10:]}) > 20  # a fleet's polls do not line up
    assert _first(3, pauses(30.0, 2.0, rand=lambda: 0.0)) == [30.0, 30.0, 30.0]  # a long interval stays


def test_a_thirty_second_recovery_costs_a_fraction_of_the_fixed_interval_polls():
    """Polling a service that recovers after 30 s (no held answers): at most 2 s late, and about 17 polls where a
    fixed 0.5 s interval took 61."""
    polls = {}
    for jitter in (0.0, 1.0):  # no jitter, and every pause shortened by the most jitter does
        clock, sent = 0.0, []
        gaps = pauses(0.5, 2.0, rand=lambda jitter=jitter: jitter)
        while True:
            sent.append(clock)
            if clock >= 30.0:
                break
            clock += next(gaps)
        assert sent[-1] - 30.0 <= 2.0
        polls[jitter] = len(sent)
    assert polls == {0.0: 18, 1.0: 23}
    assert BACKOFF == 1.5


def test_poll_until_backs_off_between_polls():
    calls: list[float] = []

    def fetch(_wait: float) -> dict[str, Any]:
        calls.append(time.monotonic())
        return {"n": len(calls)}

    outcome = poll_until(fetch, lambda value: value["n"] == 5, 10, 0.02, max_interval=0.2)
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert outcome.done and len(gaps) == 4
    assert gaps[3] > gaps[0] * 1.5  # 0.02 -> 0.0675 before jitter
