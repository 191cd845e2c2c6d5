"""Per-uid quotas of the root daemon: the numbers and the accounting, pure (``now`` passed in).

rasman serves every local user from one process, so one user must not be able to take what
the others need: memory, file descriptors, the log, links, dial attempts. Each cap is per uid
(the caller's uid from SO_PEERCRED); root is exempt from all but the frame size (root can
stop the daemon anyway, and the administrator's tools must never be refused). The I/O (what
to close, what to log, what to answer) stays in :mod:`openras.manager.server`; this module only
counts and decides.

The numbers, for a non-root uid:

- :data:`SESSIONS_PER_UID` (64) open sessions (connections): a desktop holds a handful (the
  tray, a dialer, a subscriber or two); 64 leave room for scripts dialing in parallel. A
  session over the cap is answered with one :class:`QuotaExceeded` reply and closed, so a user
  holding thousands of connections costs the daemon 64 descriptors.
- :data:`BUFFERED_PER_UID` (16 MiB): bytes held for the uid: partial request frames (each at
  most :data:`~openras.wire.codec.MAX_REQUEST`, 1 MiB, which bounds a session's) plus replies
  not yet taken by the client. Over it, all of the uid's sessions are cut off: 64 sessions
  times 1 MiB could otherwise hold 64 MiB per user.
- :data:`FD_RESERVE` (256): descriptors kept for everything else (link processes and their
  pipes, the state file, phonebooks read as the caller). Sessions of all non-root users
  together stay under ``RLIMIT_NOFILE - FD_RESERVE`` (see :meth:`Quota.set_session_budget`).
- :data:`LIVE_PER_UID` (16) live connections (dialing or connected) and :data:`DIAL_BURST`
  (10) dials at once, refilled at :data:`DIAL_RATE` (2) per second: each dial starts a
  process and writes the table; a person dials a few a day.
- :data:`LOG_BURST` (10) log lines per uid and kind (refusals, protocol errors, cut-offs,
  internal errors) about its misbehaviour, refilled over :data:`LOG_PERIOD` (60 s); lines
  past that are counted: one line says they are suppressed, and the count goes with the next
  line let through.

The dial quotas, for the Dial handler (``m_dial``), both raising :class:`QuotaExceeded`
(a :class:`~openras.errors.RasError` with code 5, ERROR_ACCESS_DENIED, whose detail names the
quota; nothing is recorded when they raise):

- ``server.quota.admit_dial(uid, now)``: call once per Dial call, first thing (before the
  phonebook is read), ``now`` being ``time.monotonic()``. Takes one token of the uid's dial
  bucket; raises when the bucket is empty (more than :data:`DIAL_BURST` dials in a burst, or
  a sustained rate over :data:`DIAL_RATE` per second). A joined dial (an entry already up)
  counts too: it is still a call that reads a phonebook.
- ``server.quota.check_live(uid, count)``: call before a new connection is created, with
  ``count`` the number of live connections (not yet deleted) the uid owns now; raises when
  one more would exceed :data:`LIVE_PER_UID`. Pure: the caller counts (the table knows).

Both are no-ops for root.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Final

from openras import errors

#: Open sessions (connections) per non-root uid.
SESSIONS_PER_UID: Final = 64
#: Bytes buffered for one non-root uid: partial request frames plus unsent replies.
BUFFERED_PER_UID: Final = 16 * 1024 * 1024
#: Live connections (dialing or connected) per non-root uid.
LIVE_PER_UID: Final = 16
#: Dials per non-root uid in a burst, and the rate (per second) the burst refills at.
DIAL_BURST: Final = 10
DIAL_RATE: Final = 2.0
#: Descriptors kept free of sessions: link processes, pipes, the state file, phonebooks.
FD_RESERVE: Final = 256
#: Log lines about one uid's misbehaviour per LOG_PERIOD seconds (after a burst of LOG_BURST).
LOG_BURST: Final = 10
LOG_PERIOD: Final = 60.0


class QuotaExceeded(errors.AccessDenied):
    """A per-uid quota refused the call (code 5; the detail names the quota)."""


@dataclass(frozen=True)
class Limits:
    """One uid's caps; None is no cap."""

    sessions: int | None
    buffered: int | None
    live: int | None
    dial_burst: int | None
    dial_rate: float


USER: Final = Limits(SESSIONS_PER_UID, BUFFERED_PER_UID, LIVE_PER_UID, DIAL_BURST, DIAL_RATE)
UNLIMITED: Final = Limits(None, None, None, None, 0.0)


def limits_for(uid: int) -> Limits:
    """Root is exempt; every other uid gets the same caps."""
    return UNLIMITED if uid == 0 else USER


@dataclass
class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; :meth:`take` spends one."""

    burst: float
    rate: float
    tokens: float = -1.0
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)

    def take(self, now: float) -> bool:
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.burst

    def wait(self) -> float:
        """Seconds until the next token (0 if one is there)."""
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass
class _Uid:
    sessions: int = 0
    buffered: dict[Hashable, int] = field(default_factory=dict)
    total: int = 0
    dials: TokenBucket | None = None


class Quota:
    """The daemon's per-uid accounting. Sessions and buffers are counted as the server opens,
    fills and closes them; the dial quotas are checked by the Dial handler (module docstring).
    """

    def __init__(
        self,
        limits: Callable[[int], Limits] = limits_for,
        session_limits: Callable[[int], Limits] = limits_for,
    ) -> None:
        #: The caps the dial quotas use (the server's reads the administrator's policy).
        self.limits = limits
        #: The caps of the per-connection paths (sessions, buffered bytes): fixed numbers,
        #: asked on every accept and read, so never a file or account lookup.
        self.session_limits = session_limits
        self._uids: dict[int, _Uid] = {}
        self._budget: int | None = None
        self._total_sessions = 0

    def _get(self, uid: int) -> _Uid:
        rec = self._uids.get(uid)
        if rec is None:
            rec = self._uids[uid] = _Uid()
        return rec

    def _forget_if_idle(self, uid: int) -> None:
        rec = self._uids.get(uid)
        if rec is not None and not rec.sessions and not rec.buffered and rec.dials is None:
            del self._uids[uid]

    # ---------------------------------------------------------------------------- sessions

    def set_session_budget(self, budget: int | None) -> None:
        """All non-root users' sessions together stay below ``budget`` (the descriptors left
        after :data:`FD_RESERVE`); root's sessions count towards it but are never refused."""
        self._budget = budget

    @staticmethod
    def session_budget(nofile: int) -> int:
        """The session budget for a soft RLIMIT_NOFILE of ``nofile``."""
        return max(nofile - FD_RESERVE, nofile // 2)

    def open_session(self, uid: int) -> None:
        """Count a new session of ``uid``, or raise :class:`QuotaExceeded` (nothing counted)."""
        cap = self.session_limits(uid).sessions
        rec = self._uids.get(uid)
        held = rec.sessions if rec is not None else 0
        if cap is not None and held >= cap:
            raise QuotaExceeded(detail=f"quota: at most {cap} open sessions per user (uid {uid})")
        if uid != 0 and self._budget is not None and self._total_sessions >= self._budget:
            raise QuotaExceeded(
                detail=f"quota: the connection manager serves at most {self._budget} sessions"
            )
        self._get(uid).sessions += 1
        self._total_sessions += 1

    def close_session(self, uid: int, key: Hashable | None = None) -> None:
        """A session opened by :meth:`open_session` ended (``key``: its buffer account)."""
        rec = self._uids.get(uid)
        if rec is None or rec.sessions <= 0:
            return
        rec.sessions -= 1
        self._total_sessions -= 1
        if key is not None:
            rec.total -= rec.buffered.pop(key, 0)
        self._forget_if_idle(uid)

    def sessions(self, uid: int) -> int:
        rec = self._uids.get(uid)
        return rec.sessions if rec is not None else 0

    @property
    def total_sessions(self) -> int:
        return self._total_sessions

    # ------------------------------------------------------------------------ buffered bytes

    def fits(self, uid: int, key: Hashable, nbytes: int) -> bool:
        """Would ``key`` (one session) holding ``nbytes`` keep ``uid`` within its total?
        Asked before the bytes are kept; records nothing."""
        cap = self.session_limits(uid).buffered
        if cap is None:
            return True
        rec = self._uids.get(uid)
        if rec is None:
            return nbytes <= cap
        return rec.total - rec.buffered.get(key, 0) + nbytes <= cap

    def account(self, uid: int, key: Hashable, nbytes: int) -> bool:
        """Record that ``key`` now holds ``nbytes``; False when ``uid`` is over its total
        (the caller cuts the uid off)."""
        rec = self._get(uid)
        old = rec.buffered.get(key, 0)
        if nbytes:
            rec.buffered[key] = nbytes
        else:
            rec.buffered.pop(key, None)
        rec.total += nbytes - old
        cap = self.session_limits(uid).buffered
        return cap is None or rec.total <= cap

    def buffered(self, uid: int) -> int:
        rec = self._uids.get(uid)
        return rec.total if rec is not None else 0

    # ----------------------------------------------------------------------------- dialing

    def admit_dial(self, uid: int, now: float) -> None:
        """Spend one of ``uid``'s dial tokens, or raise :class:`QuotaExceeded`."""
        lim = self.limits(uid)
        if lim.dial_burst is None:
            return
        rec = self._get(uid)
        if rec.dials is None or (rec.dials.burst, rec.dials.rate) != (
            lim.dial_burst,
            lim.dial_rate,
        ):
            # New, or the administrator changed this user's numbers: a fresh bucket.
            rec.dials = TokenBucket(lim.dial_burst, lim.dial_rate, stamp=now)
        if not rec.dials.take(now):
            raise QuotaExceeded(
                detail=(
                    f"quota: at most {lim.dial_burst} dials at once and {lim.dial_rate:g} per "
                    f"second per user; try again in {rec.dials.wait():.1f} s"
                )
            )

    def check_live(self, uid: int, count: int) -> None:
        """Raise :class:`QuotaExceeded` if ``uid``, holding ``count`` live connections, may
        not start another."""
        cap = self.limits(uid).live
        if cap is not None and count >= cap:
            raise QuotaExceeded(detail=f"quota: at most {cap} live connections per user")

    def prune(self, now: float) -> None:
        """Forget dial buckets that are full again (a uid that stopped dialing)."""
        for uid, rec in list(self._uids.items()):
            if rec.dials is not None and rec.dials.full(now):
                rec.dials = None
                self._forget_if_idle(uid)


@dataclass(frozen=True)
class Verdict:
    """What to do with one log line: ``log`` it (mentioning ``suppressed`` lines dropped
    before it), or drop it; ``first_dropped`` marks the first line dropped after a logged one
    (log a one-line notice in its place)."""

    log: bool
    suppressed: int = 0
    first_dropped: bool = False


class LogLimiter:
    """Rate-limits log lines per key (a uid): :data:`LOG_BURST` lines, refilled over
    :data:`LOG_PERIOD` seconds; the rest are counted."""

    MAX_KEYS: Final = 4096

    def __init__(self, burst: int = LOG_BURST, period: float = LOG_PERIOD) -> None:
        self.burst = burst
        self.rate = burst / period
        self._buckets: dict[Hashable, TokenBucket] = {}
        self._dropped: dict[Hashable, int] = {}

    def check(self, key: Hashable, now: float) -> Verdict:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_KEYS:
                self._prune(now)
            bucket = self._buckets[key] = TokenBucket(self.burst, self.rate, stamp=now)
        if bucket.take(now):
            return Verdict(True, self._dropped.pop(key, 0))
        dropped = self._dropped.get(key, 0) + 1
        self._dropped[key] = dropped
        return Verdict(False, dropped - 1, first_dropped=dropped == 1)

    def _prune(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            if bucket.full(now) and not self._dropped.get(key):
                del self._buckets[key]
        if len(self._buckets) >= self.MAX_KEYS:  # all busy: forget the counts, not the cap
            self._buckets.clear()
            self._dropped.clear()
