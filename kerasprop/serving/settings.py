"""`ServerSettings`: how much work `kerasprop serve` takes on, and who may call it (no serving imports)."""

import dataclasses

from kerasprop.schemas.specs import describe


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """How much work a server takes on, and who may call it.

    Args:
        workers: predictions (or trainings) that run at once: DEEPaaS's worker processes.
        max_queue: predictions that may wait for a worker; one more is answered 503.
        queue_timeout: seconds a prediction may wait for a worker before it is answered 503, never started.
        max_trainings: trainings that may run or wait at once; one more is answered 503.
        body_timeout: seconds a request body may take to arrive; a slower one is answered 408.
        retry_after: seconds a refused client is told to wait (`Retry-After`).
        token: the bearer token every request but `/health` must carry; `None` for none.

    Example:
    >>> ServerSettings(max_queue=4).max_queue
    4
    """

    workers: int = 1
    max_queue: int = 16
    queue_timeout: float = 30.0
    max_trainings: int = 1
    body_timeout: float = 30.0
    retry_after: int = 5
    token: str | None = None

    def __post_init__(self):
        for name in ("workers", "max_queue", "max_trainings", "retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "max_queue" else 1):
                floor = "0 or more" if name == "max_queue" else "1 or more"
                raise ValueError(f"'{name}' must be a whole number, {floor}, got {describe(value)}.")
        for name in ("queue_timeout", "body_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"'{name}' must be a positive number of seconds, got {describe(value)}.")
        if self.token is not None and (not isinstance(self.token, str) or len(self.token) < 16):
            raise ValueError("'token' must be a string of at least 16 characters (a bearer token to guess is no lock).")
