"""Progress of long work, counted in samples: a tqdm bar on a terminal, plain lines elsewhere.

Modes: `bar` (a tqdm bar on stderr), `plain` (a line on stderr at most every `INTERVAL` seconds once
the work has run that long, and a last one at the end, e.g.
`advkit: evaluate pgd eps=0.1: 512/1000 samples, 00:41 elapsed, ETA 00:38`), `auto` (bar when stderr
is a terminal, plain otherwise: CI logs, notebooks, nohup) and `none`. Work shorter than `INTERVAL`
prints no plain line, unless it is a piece of a longer run (a `progress_mode` block, as every command
is): then it ends with one. Output goes to stderr only, so `--json` stays one object on stdout.

Every `progress=` argument of the API takes a mode, True (on: the ambient mode if that is `bar` or
`plain`, else `auto`), False (`none`), None (the ambient mode, set by `progress_mode`; `auto` by
default; `none` inside other running progress, so nested work does not print over it) or a running
`Progress`, which the work then advances instead of showing its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time

from advkit.errors import UsageError

MODES = ("auto", "bar", "plain", "none")
INTERVAL = 5.0  # seconds between two plain lines (and before the first)

_AMBIENT = contextvars.ContextVar("advkit_progress_mode", default="auto")
_SHOWING = contextvars.ContextVar("advkit_progress_showing", default=0)
_RUN_STARTED = contextvars.ContextVar("advkit_progress_run_started", default=None)  # time.monotonic()


def mode_of(progress) -> str:
    """The mode (one of MODES) that a `progress=` value asks for."""
    if progress is None:
        return "none" if _SHOWING.get() else _AMBIENT.get()
    if progress is True:
        ambient = _AMBIENT.get()
        return ambient if ambient in ("bar", "plain") else "auto"
    if progress is False:
        return "none"
    if isinstance(progress, str) and progress.lower() in MODES:
        return progress.lower()
    raise UsageError(f"progress must be one of {', '.join(MODES)}, True or False, got {progress!r}")


def resolve(progress) -> str:
    """What a `progress=` value shows here: "bar", "plain" or "none" (`auto` decided by stderr)."""
    mode = mode_of(progress)
    if mode == "auto":
        return "bar" if _isatty(sys.stderr) else "plain"
    return mode


@contextlib.contextmanager
def progress_mode(progress):
    """Within the block, `progress=None` anywhere (and plugins' `advkit.progress`) means `progress`'s mode.

    The block is one run: once it has lasted `INTERVAL` seconds, each piece of work in it (a training,
    an attack) ends with a plain line even when that piece alone was shorter.
    """
    token = _AMBIENT.set(mode_of(progress) if progress is not None else _AMBIENT.get())
    started = _RUN_STARTED.set(_RUN_STARTED.get() or time.monotonic())
    try:
        yield
    finally:
        _RUN_STARTED.reset(started)
        _AMBIENT.reset(token)


class Progress:
    """A progress display of `total` units (samples by default); `update(n)` after each batch of n.

    Use as a context manager or call `close()`. `desc` labels it (change with `describe`), `total`
    may be None (unknown) or changed later, `postfix(text)` adds a note such as the loss. In plain
    mode a `heartbeat` thread also prints the line when no update came for `interval` seconds (one
    long batch, e.g. L-BFGS on all samples at once, still shows that it runs). `clock` and `stream`
    are for tests (default: time.monotonic and the current sys.stderr).
    """

    def __init__(self, total: int | None = None, desc: str = "", *, unit: str = "samples", progress=None,
                 interval: float | None = None, stream=None, clock=time.monotonic, heartbeat: bool = True):
        self.mode = resolve(progress)
        self.total, self.desc, self.unit = total, desc, unit
        self.done, self.note = 0, ""
        self.interval = INTERVAL if interval is None else float(interval)
        self._stream, self._clock = stream, clock
        self._started = self._last = clock()
        run = _RUN_STARTED.get()  # the enclosing `progress_mode` run's start, on the real clock only
        self._run_started = run if run is not None and clock is time.monotonic else self._started
        self._printed = False
        self._closed = False
        self._bar = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = None
        if self.mode == "none":
            return
        _SHOWING.set(_SHOWING.get() + 1)
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", leave=False, file=self.stream,
                             dynamic_ncols=True)
        elif heartbeat and self.interval > 0:
            self._beat = threading.Thread(target=self._heartbeat, name="advkit-progress", daemon=True)
            self._beat.start()

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stderr

    def __enter__(self):
        return self

    def __exit__(self, kind, *exc):
        self.close(finished=kind is None)

    def update(self, n: int = 1) -> None:
        """`n` more units done."""
        self.done += int(n)
        if self._bar is not None:
            self._bar.update(int(n))
        elif self.mode == "plain":
            self._emit(due=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(max(0.05, self.interval - (self._clock() - self._last))):
            self._emit(due=True)

    def describe(self, desc: str) -> None:
        self.desc = desc
        if self._bar is not None:
            self._bar.set_description(desc, refresh=False)

    def set_total(self, total: int | None) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def postfix(self, text: str) -> None:
        """A short note after the counts (e.g. `loss 0.1234`)."""
        self.note = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def line(self, final: bool = False) -> str:
        """The plain-text line for the current state."""
        elapsed = self._clock() - self._started
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        parts = [f"{count} {self.unit}", f"{_clock_time(elapsed)} elapsed"]
        if final:
            parts.append("done")
        elif self.total is not None and 0 < self.done <= self.total:
            parts.append(f"ETA {_clock_time(elapsed / self.done * (self.total - self.done))}")
        if self.note:
            parts.append(self.note)
        return f"advkit: {self.desc}: " + ", ".join(parts) if self.desc else "advkit: " + ", ".join(parts)

    def close(self, finished: bool = True) -> None:
        """End the display; in plain mode, a last line if the work (or its `progress_mode` run) lasted `interval`."""
        if self._closed:
            return
        self._closed = True
        if self.mode == "none":
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self._bar is not None:
            self._bar.close()
        elif finished and (self._printed or self._clock() - self._run_started >= self.interval):
            self._emit(final=True)
        _SHOWING.set(max(0, _SHOWING.get() - 1))

    def _emit(self, final: bool = False, due: bool = False) -> None:
        """Write the line (with `due`: only if `interval` has passed since the last one)."""
        with self._lock:
            if due and self._clock() - self._last < self.interval:
                return
            self._last = self._clock()
            self._printed = True
            stream = self.stream
            with contextlib.suppress(Exception):  # a closed or broken stderr must not end the work
                stream.write(self.line(final) + "\n")
                stream.flush()


def progress(total: int | None = None, desc: str = "", *, unit: str = "samples", progress=None) -> Progress:
    """A `Progress` for a loop of `total` units: `with advkit.progress(n, "my-analysis") as p: ... p.update(k)`.

    `progress` is a mode, True/False or None (the ambient mode: what the user chose with `--progress`).
    """
    return Progress(total, desc, unit=unit, progress=progress)


@contextlib.contextmanager
def track(progress, total: int | None, desc: str, *, unit: str = "samples"):
    """The `Progress` that work of `total` units reports to: `progress` itself when it is a running
    `Progress` (left open), else a new one for `progress`'s mode, closed at the end."""
    if isinstance(progress, Progress):
        yield progress
        return
    with Progress(total, desc, unit=unit, progress=progress) as meter:
        yield meter


def _clock_time(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
