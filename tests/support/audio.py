"""Helpers for the speech tests: small audio files, dataset folders, a fake audio server."""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from openbench_desktop.core.audio.datasets import DEMO_DIR

DEMO_TEXTS = dict(
    line.split("\t", 1)
    for line in (DEMO_DIR / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
)


def tone(seconds: float, rate: int = 16000, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * rate), dtype=np.float64) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(
    path: Path,
    samples: np.ndarray,
    rate: int = 16000,
    *,
    fmt: str | None = None,
    subtype: str | None = None,
) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate, format=fmt, subtype=subtype)
    return path


def copy_demo_clips(folder: Path, names: list[str]) -> dict[str, str]:
    """Copy demo clips into ``folder``; returns {file name: its transcript}."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(DEMO_DIR / name, folder / name)
    return {name: DEMO_TEXTS[name] for name in names}


def write_tsv(path: Path, rows: dict[str, str], *, header: bool = True) -> Path:
    lines = (["file_name\ttranscription"] if header else []) + [
        f"{name}\t{text}" for name, text in rows.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# --- a fake OpenAI-compatible audio server ------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    files: dict[str, tuple[str, bytes]]
    json: Any


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Any]]:
    raw = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    form: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename:
            files[str(name)] = (filename, payload)
        else:
            form[str(name)] = payload.decode("utf-8")
    return form, files


class AudioServer:
    """Answers ``/v1/audio/transcriptions`` and ``/v1/audio/speech`` with ``responder``."""

    def __init__(self, responder: Callable[[SeenRequest], Reply]) -> None:
        self.responder = responder
        self.requests: list[SeenRequest] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                ctype = self.headers.get("content-type", "")
                form: dict[str, str] = {}
                files: dict[str, Any] = {}
                payload = None
                if ctype.startswith("multipart/"):
                    form, files = _parse_multipart(ctype, body)
                elif "json" in ctype:
                    payload = json.loads(body)
                seen = SeenRequest(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, form, files,
                    payload,
                )
                server.requests.append(seen)
                reply = server.responder(seen)
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> AudioServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def audio_server(responder: Callable[[SeenRequest], Reply]) -> Iterator[AudioServer]:
    server = AudioServer(responder).start()
    try:
        yield server
    finally:
        server.stop()


def json_reply(obj: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps(obj).encode(), "application/json", dict(headers))
