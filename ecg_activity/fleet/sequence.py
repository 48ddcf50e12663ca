"""Which of a device's decisions the collector has written: QoS 1 may deliver one twice, a broker
restart may lose some, and a rogue client may forge a sequence number.  Pure bookkeeping, no I/O.

Duplicates are recognised by the (session, seq) pairs recently written, not
by a high-water mark, so one forged far-ahead ``seq`` cannot turn every later
real decision into a "duplicate"; a ``seq`` more than ``MAX_SEQ_STEP`` ahead
of its session's is refused outright.  Missing decisions (``gaps``) are the
holes in each session's run of sequence numbers.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from .schema import MAX_SEQ_STEP

#: (session, seq) pairs remembered per session: far more than the publisher keeps in flight (64)
RECENT = 256
#: sessions remembered per device (a device keeps one for as long as its spool folder lives)
SESSIONS = 4


@dataclass
class SessionSeqs:
    """One session's sequence numbers as written: the first and highest, how many, the recent ones."""

    first: int
    top: int
    count: int = 0
    recent: set = field(default_factory=set)
    order: deque = field(default_factory=deque)

    @property
    def missing(self) -> int:
        """Sequence numbers between the first and the highest that never arrived."""
        return max(0, self.top - self.first + 1 - self.count)


class SeqTracker:
    """A device's sessions and the sequence numbers written in each: ``check`` says whether a decision is
    new, a duplicate or implausible; ``written`` records it."""

    def __init__(self) -> None:
        self.sessions: OrderedDict[str, SessionSeqs] = OrderedDict()

    def resume(self, session: str, seq: int) -> None:
        """What the device's file already ends with (after a collector restart)."""
        self.written(session, seq)

    def check(self, session: str, seq: int) -> str:
        """``new``, ``duplicate`` or ``implausible`` (more than MAX_SEQ_STEP ahead of its session)."""
        s = self.sessions.get(session)
        if s is None:
            return "new"
        if seq in s.recent or (len(s.order) >= RECENT and seq < s.order[0]):     # older than we remember
            return "duplicate"
        if seq > s.top + MAX_SEQ_STEP:
            return "implausible"
        return "new"

    def written(self, session: str, seq: int) -> None:
        s = self.sessions.get(session)
        if s is None:
            s = self.sessions[session] = SessionSeqs(first=seq, top=seq)
            while len(self.sessions) > SESSIONS:
                self.sessions.popitem(last=False)
        self.sessions.move_to_end(session)
        s.first, s.top = min(s.first, seq), max(s.top, seq)
        s.count += 1
        s.recent.add(seq)
        s.order.append(seq)
        while len(s.order) > RECENT:
            s.recent.discard(s.order.popleft())

    @property
    def gaps(self) -> int:
        """Decisions missing inside the sessions seen (lost before they reached the collector)."""
        return sum(s.missing for s in self.sessions.values())
