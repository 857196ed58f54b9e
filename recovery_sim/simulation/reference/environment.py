"""The SimPy adapter: what the model needs of SimPy beyond its public API, in one place.

Two things: waits until an absolute instant (so both engine paths land on the same floats), and
starting the processes created before a run without a heap entry each. Both reach into SimPy's
internals (`_queue`, `_eid`, `Process._resume`); tests/simulation/test_fast_path.py checks they change
nothing.
"""

from __future__ import annotations

from heapq import heappush

import simpy
from simpy.core import NORMAL
from simpy.events import PENDING


class _Started:
    """What `Process._resume` needs of the event that starts a process."""

    _ok = True
    _value = None


_STARTED = _Started()


class Environment(simpy.Environment):
    """SimPy plus waits until an absolute instant.

    `timeout(when - now)` fires at `now + (when - now)`, which float rounding can put one ulp away from
    `when`, depending on where the process waited from. The compiled path (kernel.py) schedules
    absolute instants, so every wait on a scheduled instant goes through `timeout_at` and lands exactly.
    """

    def timeout_at(self, when: float) -> simpy.Event:
        event = simpy.Event(self)
        event._ok, event._value = True, None  # a triggered event, like a Timeout
        heappush(self._queue, (max(when, self._now), NORMAL, next(self._eid), event))
        return event

    def start(self, generator) -> None:
        """`process(generator)` for processes created before `run`, without an `Initialize` event.

        SimPy would run every such process to its first `yield` at time 0, in creation order, before
        anything else; running it there and then does the same, and spares a heap entry per process.
        """
        process = simpy.Process.__new__(simpy.Process)
        process.env, process.callbacks, process._value = self, [], PENDING
        process._generator = generator
        process._resume(_STARTED)
