"""Collecting a call's output on the host: capped per stream, forwarded as it arrives."""

from __future__ import annotations

from .base import OutputCallback


class OutputSink:
    """stdout and stderr of one call, each kept up to `cap` bytes (UTF-8)."""

    def __init__(
        self,
        cap: int,
        on_stdout: OutputCallback | None = None,
        on_stderr: OutputCallback | None = None,
    ) -> None:
        self._cap = cap
        self._parts: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._sizes = {"stdout": 0, "stderr": 0}
        self._callbacks = {"stdout": on_stdout, "stderr": on_stderr}
        self.truncated: set[str] = set()
        self.callback_error: BaseException | None = None

    def add(self, stream: str, text: str) -> None:
        """Keep what fits, hand it to the stream's callback, and note any overflow."""
        room = self._cap - self._sizes[stream]
        data = text.encode("utf-8", "surrogatepass")
        if len(data) > room:
            self.truncated.add(stream)
            text = data[: max(room, 0)].decode("utf-8", "ignore")
            data = text.encode("utf-8", "surrogatepass")
        if not text:
            return
        self._parts[stream].append(text)
        self._sizes[stream] += len(data)
        callback = self._callbacks[stream]
        if callback is not None and self.callback_error is None:
            try:
                callback(text)
            except Exception as e:  # the caller's bug: re-raised after the call, not lost
                self.callback_error = e

    def text(self, stream: str) -> str:
        return "".join(self._parts[stream])
