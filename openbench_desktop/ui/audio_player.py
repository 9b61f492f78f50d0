"""Play one audio clip through the default output device, without blocking the GUI.

QtMultimedia is not part of PySide6-Essentials, so playback uses ``sounddevice``
(PortAudio) and ``soundfile`` (libsndfile) from the ``audio`` extra. Both are imported
lazily, on a worker thread: importing sounddevice initialises PortAudio, which enumerates
the sound devices and can take a noticeable moment.

- :meth:`ClipPlayer.check` finds out once whether playback can work here and says exactly
  what is missing otherwise (:attr:`ClipPlayer.problem`): the extra, the PortAudio system
  library, or an output device.
- :meth:`ClipPlayer.play` decodes the file and opens the stream on a worker thread; PortAudio
  then pulls samples from its own thread through a callback; the end of the clip comes back
  to the GUI thread as a queued signal. :meth:`ClipPlayer.stop` aborts the stream.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

INSTALL_EXTRA = "Install the audio extra: pip install 'openbench-desktop[audio]'"
NO_PORTAUDIO = (
    "The PortAudio library is missing: install libportaudio2 "
    "(e.g. sudo apt install libportaudio2)"
)
NO_DEVICE = "No audio output device"
CHECKING = "Checking the audio output…"


def playback_problem() -> str | None:
    """Why a clip cannot be played here, or None when it can (may take a moment)."""
    try:
        import soundfile  # noqa: F401
    except (ImportError, OSError):
        return INSTALL_EXTRA
    try:
        import sounddevice as sd
    except ImportError:
        return INSTALL_EXTRA
    except OSError:  # the module is there, the PortAudio shared library is not
        return NO_PORTAUDIO
    try:
        device = sd.query_devices(kind="output")
    except Exception:  # PortAudioError: no default output device
        return NO_DEVICE
    if not device or int(device.get("max_output_channels", 0)) < 1:
        return NO_DEVICE
    return None


class ClipMissingError(FileNotFoundError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"The clip is missing: {path} (was the dataset moved or deleted?)"
        )
        self.path = path


class _Stream:
    """A decoded clip and the PortAudio stream that plays it (worker → GUI thread)."""

    def __init__(self, data: Any, rate: int, on_finished: Callable[[], None]) -> None:
        import sounddevice as sd

        self.data = data
        self.pos = 0
        self.lock = threading.Lock()
        self.stream = sd.OutputStream(
            samplerate=rate,
            channels=data.shape[1],
            dtype="float32",
            callback=self._callback,
            finished_callback=on_finished,
        )

    def _callback(self, out: Any, frames: int, _time: Any, _status: Any) -> None:
        import sounddevice as sd

        # Runs on PortAudio's thread: copy the next frames, zero-pad the last block.
        with self.lock:
            chunk = self.data[self.pos : self.pos + frames]
            self.pos += len(chunk)
        out[: len(chunk)] = chunk
        if len(chunk) < frames:
            out[len(chunk) :] = 0
            raise sd.CallbackStop

    def start(self) -> None:
        self.stream.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.abort()
        with contextlib.suppress(Exception):
            self.stream.close()


def _decode(path: Path, max_channels: int | None = None) -> tuple[Any, int]:
    import soundfile as sf

    if not path.is_file():
        raise ClipMissingError(path)
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if max_channels is not None and data.shape[1] > max_channels:
        data = data.mean(axis=1, keepdims=True)  # a mono device plays a mixdown
    return data, int(rate)


class _Relay(QObject):
    """Lives on the GUI thread: workers and PortAudio's thread emit here (queued)."""

    checked = Signal(object)  # str | None
    opened = Signal(int, object, object)  # token, _Stream | None, error str | None
    ended = Signal(int)  # token


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__()
        self.fn = fn

    def run(self) -> None:
        self.fn()


class ClipPlayer(QObject):
    """One clip at a time. ``state_changed`` carries "checking", "idle", "loading",
    "playing" or "unavailable"; ``failed`` a user-facing message (e.g. a missing clip)."""

    state_changed = Signal(str)
    failed = Signal(str)
    finished = Signal()  # the clip played to its end

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        probe: Callable[[], str | None] = playback_problem,
    ) -> None:
        super().__init__(parent)
        self._probe = probe
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.checked.connect(self._on_checked)
        self._relay.opened.connect(self._on_opened)
        self._relay.ended.connect(self._on_ended)
        self._tokens = itertools.count(1)
        self._token = 0
        self._stream: _Stream | None = None
        self._state = "checking"
        self.problem: str | None = CHECKING
        self.path: Path | None = None

    @property
    def state(self) -> str:
        return self._state

    @property
    def available(self) -> bool:
        return self.problem is None

    def is_playing(self) -> bool:
        return self._state in ("loading", "playing")

    def check(self) -> None:
        """Find out (on a worker) whether playback works here; ``state_changed`` tells."""
        relay, probe = self._relay, self._probe

        def job() -> None:
            try:
                problem = probe()
            except Exception as exc:  # an unexpected PortAudio error: say it
                problem = f"Audio output unavailable: {exc}"
            with contextlib.suppress(RuntimeError):  # the player was deleted meanwhile
                relay.checked.emit(problem)

        self._set_state("checking")
        self._pool.start(_Job(job))

    def play(self, path: str | Path) -> None:
        if self.problem is not None:
            self.failed.emit(self.problem)
            return
        self.stop()
        self._token = token = next(self._tokens)
        self.path = Path(path)
        relay, target = self._relay, Path(path)

        def job() -> None:
            try:
                data, rate = _decode(target)
                stream = _Stream(data, rate, lambda: _emit_ended(relay, token))
                stream.start()
            except ClipMissingError as exc:
                _emit_opened(relay, token, None, str(exc))
                return
            except Exception as exc:
                log.info("could not play %s: %s", target, exc)
                _emit_opened(relay, token, None, f"Could not play {target.name}: {exc}")
                return
            _emit_opened(relay, token, stream, None)

        self._set_state("loading")
        self._pool.start(_Job(job))

    def stop(self) -> None:
        self._token = next(self._tokens)  # late answers of the old clip are ignored
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()
        if self._state in ("loading", "playing"):
            self._set_state("idle")

    def shutdown(self) -> None:
        """Stop and wait for the worker (before the application quits)."""
        self.stop()
        self._pool.waitForDone(5000)

    # -- answers (GUI thread) ------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    @Slot(object)
    def _on_checked(self, problem: object) -> None:
        self.problem = problem if isinstance(problem, str) else None
        self._set_state("unavailable" if self.problem else "idle")

    @Slot(int, object, object)
    def _on_opened(self, token: int, stream: object, error: object) -> None:
        if token != self._token:
            if isinstance(stream, _Stream):
                stream.close()  # stopped or replaced while it was opening
            return
        if error is not None or not isinstance(stream, _Stream):
            self._set_state("idle")
            self.failed.emit(str(error))
            return
        self._stream = stream
        self._set_state("playing")

    @Slot(int)
    def _on_ended(self, token: int) -> None:
        if token != self._token:
            return
        # A short clip can end before the worker's "opened" is delivered: that answer is
        # now stale, and its stream gets closed when it arrives.
        self._token = next(self._tokens)
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()
        self._set_state("idle")
        self.finished.emit()


def _emit_opened(relay: _Relay, token: int, stream: _Stream | None, error: str | None) -> None:
    with contextlib.suppress(RuntimeError):
        relay.opened.emit(token, stream, error)


def _emit_ended(relay: _Relay, token: int) -> None:
    # Called on PortAudio's thread when the stream stops (end of clip or abort).
    with contextlib.suppress(RuntimeError):
        relay.ended.emit(token)


__all__ = ["CHECKING", "INSTALL_EXTRA", "NO_DEVICE", "NO_PORTAUDIO", "ClipPlayer",
           "playback_problem"]
