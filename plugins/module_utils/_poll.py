# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Wait for a real condition against a deadline: poll, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class PollOutcome:
    """What a poll ended with: the last value, whether the condition held, how long and how many reads."""

    def __init__(self, value: Any, done: bool, elapsed: float, attempts: int):
        self.value = value
        self.done = done
        self.elapsed = elapsed
        self.attempts = attempts


def poll_until(
    fetch: Callable[[], Any],
    is_done: Callable[[Any], bool],
    timeout: float,
    interval: float,
    on_sample: Callable[[float, Any], None] | None = None,
) -> PollOutcome:
    """Call fetch() until is_done(value) or timeout seconds passed; the last read happens at the deadline."""
    started = time.monotonic()
    deadline = started + max(0.0, timeout)
    attempts = 0
    while True:
        value = fetch()
        attempts += 1
        now = time.monotonic()
        if on_sample is not None:
            on_sample(round(now - started, 3), value)
        if is_done(value):
            return PollOutcome(value, True, round(now - started, 3), attempts)
        if now >= deadline:
            return PollOutcome(value, False, round(now - started, 3), attempts)
        time.sleep(min(interval, deadline - now))
