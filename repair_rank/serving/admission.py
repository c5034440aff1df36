"""Which requests run now: a bounded worker pool ("lane") per kind of work.

Scoring used to run under one lock, so a tiny /rerank waited 7.7 s behind the
worst valid one (2000 x 1024 tokens, 8.7 s; issue 23). Now each request is
given a lane by a cost estimate taken before its body is read (route and
Content-Length): small reranks, large reranks and source repairs each have
their own workers, so small work never queues behind large work. A lane holds
at most `workers` running and `queue` waiting requests; a request that finds
its lane full, or waits longer than `max_wait_s`, gets a 503 with a Retry-After
estimated from the lane's recent service times, and so does every waiting
request once shutdown begins.
"""
import contextlib
import dataclasses
import math
import threading
import time
from typing import Iterator

import ml_collections

from repair_rank.serving.protocol import RequestError

SMALL, LARGE, REPAIR = "small", "large", "repair"


@dataclasses.dataclass(frozen=True)
class LaneLimits:
  """How much work runs at once, and how much may wait."""
  small_request_bytes: int = 64 << 10  # /rerank bodies up to this are small (bytes)
  small_workers: int = 1
  large_workers: int = 1
  repair_workers: int = 2
  queue: int = 16  # requests that may wait in each lane beyond those running
  max_wait_s: float = 30.0

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "LaneLimits":
    default = cls()
    return cls(
        small_request_bytes=int(config.get("small_request_bytes", default.small_request_bytes)),
        small_workers=int(config.get("small_workers", default.small_workers)),
        large_workers=int(config.get("large_workers", default.large_workers)),
        repair_workers=int(config.get("repair_workers", default.repair_workers)),
        queue=int(config.get("lane_queue", default.queue)),
        max_wait_s=float(config.get("max_queue_wait_s", default.max_wait_s)))


class Lane:
  """A bounded worker pool: `workers` requests run, `queue` more wait, others are refused."""

  def __init__(self, name: str, workers: int, queue: int, max_wait_s: float):
    if workers < 1 or queue < 0:
      raise ValueError(f"lane {name}: workers must be >= 1 and queue >= 0")
    self.name, self.workers, self.queue, self.max_wait_s = name, workers, queue, max_wait_s
    self._condition = threading.Condition()
    self._admitted = 0  # running and waiting
    self._running = 0
    self._draining = False
    self._mean_s = 0.1  # moving average of the seconds one request runs

  def retry_after(self) -> str:
    """Seconds until a place is likely free (the Retry-After header's value)."""
    with self._condition:
      return str(max(1, math.ceil(self._mean_s * self._admitted / self.workers)))

  def _refuse(self, why: str) -> RequestError:
    return RequestError(503, f"{why}; retry later", headers={"Retry-After": self.retry_after()})

  @contextlib.contextmanager
  def place(self) -> Iterator["Lane"]:
    """A place in the lane (running or waiting), held for the whole request; 503 when full."""
    with self._condition:
      full = self._draining or self._admitted >= self.workers + self.queue
      if not full:
        self._admitted += 1
    if full:
      raise self._refuse("the server is shutting down" if self._draining else
                         f"the {self.name} lane is full ({self.workers} running, {self.queue} "
                         "waiting)")
    try:
      yield self
    finally:
      with self._condition:
        self._admitted -= 1

  @contextlib.contextmanager
  def worker(self) -> Iterator[None]:
    """Waits (up to `max_wait_s`) for one of the lane's workers and holds it; needs a place."""
    with self._condition:
      got = self._condition.wait_for(lambda: self._draining or self._running < self.workers,
                                     timeout=self.max_wait_s)
      draining = self._draining
      if got and not draining:
        self._running += 1
    if draining:
      raise self._refuse("the server is shutting down")
    if not got:
      raise self._refuse(f"waited {self.max_wait_s:g} s for a worker of the {self.name} lane "
                         "(max_queue_wait_s)")
    start = time.monotonic()
    try:
      yield
    finally:
      with self._condition:
        self._running -= 1
        self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - start)
        self._condition.notify()

  def drain(self) -> None:
    """Shutdown: every request still waiting is refused (503); running ones finish."""
    with self._condition:
      self._draining = True
      self._condition.notify_all()


class Lanes:
  """The endpoint's lanes, and the cost estimate that picks one for a request."""

  def __init__(self, limits: LaneLimits = LaneLimits()):
    self.limits = limits
    self.lanes = {SMALL: Lane(SMALL, limits.small_workers, limits.queue, limits.max_wait_s),
                  LARGE: Lane(LARGE, limits.large_workers, limits.queue, limits.max_wait_s),
                  REPAIR: Lane(REPAIR, limits.repair_workers, limits.queue, limits.max_wait_s)}

  def for_rerank(self, body_bytes: int) -> Lane:
    """The lane of a /rerank(.json) request of this many body bytes (its cost estimate)."""
    return self.lanes[SMALL if body_bytes <= self.limits.small_request_bytes else LARGE]

  def for_repair(self) -> Lane:
    return self.lanes[REPAIR]

  def drain(self) -> None:
    for lane in self.lanes.values():
      lane.drain()
