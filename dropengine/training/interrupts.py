"""Ctrl-C during Trainer.fit: delivered while the core runs, deferred while its result is stored."""
from __future__ import annotations

import signal
import threading

__all__ = ["SigintGuard"]


class SigintGuard:
    """Ctrl-C during fit (main thread only; elsewhere a no-op).

    While the core runs, and in user code (progress, measurements), Ctrl-C is delivered
    at once, to the handler that was installed before (the core polls for it and stops
    at a minibatch boundary). From the moment the core returns until `release`, it is
    only noted, and raised by `release`: an interrupt landing after the core's last poll
    must not cost a finished epoch its history row or checkpoint.
    """

    def __enter__(self):
        self.active = threading.current_thread() is threading.main_thread()
        self.pending, self.deferring = False, False
        if self.active:
            self.old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.signal(signal.SIGINT, self.old)
        return False

    def _handler(self, signum, frame):
        if self.deferring:
            self.pending = True
        else:
            self._deliver(signum, frame)

    def _deliver(self, signum, frame):
        if callable(self.old):
            self.old(signum, frame)
        elif self.old != signal.SIG_IGN:
            raise KeyboardInterrupt

    def call_core(self, run, *args):
        """run(*args), returning (result, interrupted_late) with deferral switched on.

        A KeyboardInterrupt raised after `run` returned but before its result was stored
        (the interpreter runs signal handlers between bytecodes) would drop the result:
        list.extend(map(...)) stores it from C, with no bytecode in between."""
        got = []
        try:
            try:
                got.extend(map(run, *([a] for a in args)))
            finally:
                self.deferring = self.active
        except KeyboardInterrupt:
            if not got:
                self.deferring = False
                raise
            return got[0], True
        return got[0], False

    def release(self):
        """Ends the deferral; raises a Ctrl-C that arrived during it."""
        self.deferring = False
        if self.pending:
            self.pending = False
            self._deliver(signal.SIGINT, None)

    def forget(self):
        """Ends the deferral while another exception propagates (it wins)."""
        self.deferring = self.pending = False
