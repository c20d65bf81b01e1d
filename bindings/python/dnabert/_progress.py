"""Progress for long calls: a tqdm.auto bar (a widget in Jupyter, a text bar on a terminal), else — tqdm absent,
or the output is not a terminal (a log file, a batch job) — a plain line every few seconds instead of thousands
of carriage-return updates. Ctrl-C cancels the library call."""
import ctypes
import os
import sys
import time

from ._lib import PROGRESS_FN

LOG_INTERVAL = float(os.environ.get("DNABERT_LOG_INTERVAL", "10"))   # seconds between plain log lines


def _in_notebook():
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except Exception:  # pragma: no cover - IPython missing or broken
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _interactive(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class LogBar:
    """The part of tqdm's interface the bindings use (total, n, set_postfix, refresh, close), writing one plain
    line per `interval` seconds (and a last line at close) to `stream`."""

    def __init__(self, desc="dnabert", total=None, unit="it", stream=None, interval=None, always_final=True):
        self.desc, self.total, self.unit = desc, total, unit
        self.n = 0
        self.stream = stream if stream is not None else sys.stderr
        self.interval = LOG_INTERVAL if interval is None else interval
        self.start = time.monotonic()
        self.last_print = None
        self.postfix = {}
        self.closed = False
        self.lines = 0
        self.always_final = always_final     # False: a call done within 2 s prints nothing

    def _line(self):
        elapsed = time.monotonic() - self.start
        if self.total:
            frac = min(max(self.n / self.total, 0.0), 1.0)
            head = f"{self.desc}: {self.n}/{self.total} {self.unit}s ({100 * frac:.0f}%)"
            if 0 < frac < 1:
                head += f", ETA {elapsed / frac - elapsed:.0f} s"
        else:
            head = f"{self.desc}: {self.n} {self.unit}s"
        post = ", ".join(f"{k}={v}" for k, v in self.postfix.items())
        return head + (", " + post if post else "") + f", {elapsed:.1f} s elapsed"

    def _emit(self):
        print(self._line(), file=self.stream, flush=True)
        self.last_print = time.monotonic()
        self.lines += 1

    def refresh(self):
        now = time.monotonic()
        if self.last_print is None and now - self.start < min(self.interval, 2.0):
            return                                           # quick calls print only their last line
        if self.last_print is None or now - self.last_print >= self.interval:
            self._emit()

    def update(self, k=1):
        self.n += k
        self.refresh()

    def set_postfix(self, postfix=None, refresh=True, **kw):
        self.postfix = dict(postfix or {}, **kw)
        if refresh:
            self.refresh()

    def close(self):
        if not self.closed:
            self.closed = True
            quick = time.monotonic() - self.start < min(self.interval, 2.0)
            if self.n > 0 and (self.always_final or self.lines > 0 or not quick):
                self._emit()


def make_bar(desc, total=None, unit="it", leave=True):
    """A tqdm.auto bar in a notebook or on a terminal when tqdm is installed; else a LogBar (leave=False: a
    call that finishes within 2 s prints no line)."""
    if _in_notebook() or _interactive(sys.stderr):
        try:
            from tqdm.auto import tqdm
            return tqdm(desc=desc, total=total, unit=unit, leave=leave)
        except ImportError:
            pass
    return LogBar(desc=desc, total=total, unit=unit, always_final=leave)


class ProgressReporter:
    """Owns the ctypes callback for one long call. `enabled=None` or True means: report (a bar or log lines)."""

    def __init__(self, enabled=None, description="dnabert"):
        self.bar = None
        self.stage = None
        self.cancelled = False
        self.interrupted = False
        self.description = description
        self.history = []
        self.enabled = enabled is None or bool(enabled)
        self.callback = PROGRESS_FN(self._on_progress)

    def _on_progress(self, _user, p):
        try:
            pr = p.contents
            stage = pr.stage.decode() if pr.stage else ""
            self.history.append((stage, pr.current, pr.total, pr.elapsed_seconds))
            if self.enabled and stage == "done":
                self.close()
            elif self.enabled:
                if stage != self.stage:
                    if self.bar is not None:
                        self.bar.close()
                    self.stage = stage
                    self.bar = make_bar(f"{self.description}: {stage}", total=pr.total if pr.total >= 0 else None,
                                        leave=False)
                if self.bar is not None:
                    self.bar.n = pr.current
                    self.bar.refresh()
            return 0
        except KeyboardInterrupt:
            self.interrupted = True
            return 1
        except Exception:  # never let a Python error unwind through the C library
            return 0

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
