"""Turns the library's progress callback into a tqdm bar (when tqdm is installed) and lets Ctrl-C cancel."""
import ctypes

from ._lib import PROGRESS_FN


class ProgressReporter:
    """Owns the ctypes callback for one long call. `enabled=None` means: a bar if tqdm is importable."""

    def __init__(self, enabled=None, description="dnabert"):
        self.bar = None
        self.stage = None
        self.cancelled = False
        self.interrupted = False
        self.description = description
        self.history = []
        if enabled is None or enabled:
            try:
                import tqdm  # noqa: F401
                self._tqdm = tqdm.tqdm
            except ImportError:
                self._tqdm = None
        else:
            self._tqdm = None
        self.callback = PROGRESS_FN(self._on_progress)

    def _on_progress(self, _user, p):
        try:
            pr = p.contents
            stage = pr.stage.decode() if pr.stage else ""
            self.history.append((stage, pr.current, pr.total, pr.elapsed_seconds))
            if self._tqdm is not None and stage == "done":
                self.close()
            elif self._tqdm is not None:
                if stage != self.stage:
                    if self.bar is not None:
                        self.bar.close()
                    self.stage = stage
                    self.bar = self._tqdm(total=pr.total if pr.total >= 0 else None,
                                          desc=f"{self.description}: {stage}", leave=False)
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
