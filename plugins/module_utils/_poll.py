# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Wait for a real condition against a deadline: poll, never a fixed sleep.

Every wait of the collection goes through poll_until, so they all share one rule: a poll waits for its answer
as long as the remaining budget allows (a slow service is still seen), only the pause between two polls is
short, and a poll that gets no answer is a sample like any other. Only the deadline ends the wait.

The pauses back off: the first is `interval`, each next one BACKOFF times as long, up to `max_interval`, and each is
jittered down by up to JITTER of itself. A rollback must not flood the service it is rescuing: a fleet of
environments polling every 0.5 s sends two requests a second each, for as long as the recovery takes. The longest
pause bounds how late a recovery is seen; the jitter keeps a fleet's polls from arriving together.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

# A poll sent at (or just before) the deadline still gets this long to answer, or SLOW_ANSWER_GRACE times as long
# as the last answer took, whichever is longer: the last look at a slow service is a real one, not a timeout.
MIN_POLL_WAIT = 1.0
SLOW_ANSWER_GRACE = 1.5
BACKOFF = 1.5
JITTER = 0.25
MAX_INTERVAL = 2.0


def pauses(interval: float, max_interval: float | None = None, *, rand: Callable[[], float] = random.random):
    """The pauses between polls: interval, then BACKOFF times the one before up to max_interval, each jittered
    down by up to JITTER (so never longer than max_interval)."""
    longest = max(interval, MAX_INTERVAL if max_interval is None else max_interval)
    current = interval
    while True:
        yield current * (1 - JITTER * rand())
        current = min(longest, current * BACKOFF)


class PollSample:
    """One poll: when it was sent (seconds since the first), how long the answer took, and what came back."""

    def __init__(self, at: float, latency: float, value: Any, answered: bool):
        self.at = at
        self.latency = latency
        self.value = value
        self.answered = answered

    @property
    def error(self) -> str | None:
        return str(self.value) if isinstance(self.value, BaseException) else None


def seconds(value: float) -> str:
    """A duration for a message: 54.9969 -> '55s', 2.5 -> '2.5s'."""
    return f"{round(value, 1):g}s"


def _answered(value: Any) -> bool:
    """An error that carries a status code (a 503, a throttling answer) is still an answer: the service is up."""
    return not isinstance(value, BaseException) or getattr(value, "status", None) is not None


class PollOutcome:
    """How a wait ended: the last value, whether the condition held, and every poll it took."""

    def __init__(self, samples: list[PollSample], done: bool, elapsed: float):
        self.samples = samples
        self.done = done
        self.elapsed = elapsed

    @property
    def value(self) -> Any:
        """The last poll's value: a document, or the exception that stood in for a missing answer."""
        return self.samples[-1].value

    @property
    def last_read(self) -> Any:
        """The last value a poll did read (not an error), or None when none did."""
        return next((s.value for s in reversed(self.samples) if not isinstance(s.value, BaseException)), None)

    @property
    def attempts(self) -> int:
        return len(self.samples)

    @property
    def answered(self) -> int:
        return sum(1 for sample in self.samples if sample.answered)

    @property
    def unanswered(self) -> int:
        return self.attempts - self.answered

    @property
    def last_answer(self) -> PollSample | None:
        return next((sample for sample in reversed(self.samples) if sample.answered), None)

    def describe(self) -> str:
        """What the polls saw, so that a slow service and a down one read differently."""
        polls = f"{self.attempts} poll{'s' if self.attempts != 1 else ''} in {seconds(self.elapsed)}"
        last = self.last_answer
        if last is None:
            parts = ["none answered"]
        else:
            who = "all answered" if self.unanswered == 0 else f"{self.answered} answered"
            parts = [f"{who}, the last after {seconds(last.latency)}"]
        if self.unanswered:
            last_error = next(s.error for s in reversed(self.samples) if not s.answered)
            parts.append(f"{self.unanswered} got no answer (last: {last_error})")
        return f"{polls}: {'; '.join(parts)}"

    def summary(self) -> dict[str, Any]:
        """The same facts as data, for a module's result."""
        last = self.last_answer
        return {
            "polls": self.attempts,
            "answered": self.answered,
            "unanswered": self.unanswered,
            "last_answer_seconds": round(last.latency, 3) if last else None,
            "elapsed": self.elapsed,
        }


def poll_until(
    fetch: Callable[[float], Any],
    is_done: Callable[[Any], bool],
    timeout: float,
    interval: float,
    *,
    transient: tuple[type[BaseException], ...] = (),
    on_sample: Callable[[PollSample], None] | None = None,
    min_wait: float = MIN_POLL_WAIT,
    max_interval: float | None = None,
) -> PollOutcome:
    """Call fetch(wait) until is_done(value) holds or timeout seconds have passed.

    fetch gets the seconds it may wait for this answer: what is left of the budget, never a fixed per-poll cap, so
    a service slower than any guess is still seen. Near the deadline it still gets min_wait, or 1.5 times as long
    as the last answer took, whichever is longer. An exception of a `transient` type is
    recorded as a sample (the service did not answer, or answered with an error) and polling goes on; any other
    exception ends the wait at once. The last poll happens at the deadline. The pauses back off from interval up
    to max_interval (MAX_INTERVAL when not given), jittered (pauses()).
    """
    gaps = pauses(interval, max_interval)
    started = time.monotonic()
    deadline = started + max(0.0, timeout)
    samples: list[PollSample] = []
    floor = min_wait
    while True:
        sent = time.monotonic()
        try:
            value = fetch(max(deadline - sent, floor))
        except transient as exc:
            value = exc
        received = time.monotonic()
        sample = PollSample(round(sent - started, 3), round(received - sent, 3), value, _answered(value))
        samples.append(sample)
        if on_sample is not None:
            on_sample(sample)  # first: it may say how much of the answer's time was the service's own
        if sample.answered:
            floor = max(min_wait, SLOW_ANSWER_GRACE * sample.latency)
        done = not isinstance(value, BaseException) and is_done(value)
        if done or received >= deadline:
            return PollOutcome(samples, done, round(received - started, 3))
        time.sleep(min(next(gaps), deadline - received))
