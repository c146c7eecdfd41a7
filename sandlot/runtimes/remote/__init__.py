"""The remote tier: a sandbox on a `sandlot serve` host, driven over HTTP.

`SandboxCore` picks this runtime when given `base_url`; everything above the runtime seam
(argument checks, locking, results) stays the same code as for a local sandbox. Results and
errors come back through `wire`, so a remote call returns the same `Execution` and raises
the same exception type with the same message as a local one; output arrives as
server-sent events so `on_stdout`/`on_stderr` fire while the code runs.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from ... import __version__, wire
from ...errors import InvalidArgument, LimitExceeded, NotFound, SandboxClosed, SandboxError
from ...models import (
    CommandResult,
    ConnectionRecord,
    EntryInfo,
    Execution,
    Limits,
    SnapshotInfo,
)
from ..base import Availability, OutputCallback, SandboxSpec

__all__ = ["RemoteError", "RemoteFiles", "RemoteRuntime", "RemoteSandbox"]

CREATE_TIMEOUT = 300.0
"""Seconds to wait for a create (a server's first sandbox may compile its runtime)."""

CALL_MARGIN = 60.0
"""Seconds past a call's own limit to wait for its answer (stopping and restoring take time)."""


def _check_path(path: object) -> None:
    """What only the client can see: a query or JSON string can't say a path wasn't one."""
    if not isinstance(path, str):
        raise InvalidArgument(f"a path must be a str; got {type(path).__name__}")


class RemoteError(SandboxError):
    """The server could not be reached, refused the API key, or answered nonsense."""


class _Http:
    """One httpx client per sandbox; every failure becomes a sandlot error naming the URL."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        headers = {"User-Agent": f"sandlot/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(60.0, connect=10.0)
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, path: str, *, timeout: float | None = None, **kw: Any
    ) -> httpx.Response:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self.client.request(method, path, **kw, **extra)
        except httpx.HTTPError as e:
            raise self.unreachable(e) from None
        self.check(response)
        return response

    def json(self, method: str, path: str, **kw: Any) -> Any:
        r = self.request(method, path, **kw)  # its errors (InvalidArgument is a ValueError)
        try:
            return r.json()
        except (ValueError, RecursionError):
            raise RemoteError(f"the sandlot server at {self.base_url} sent invalid JSON") from None

    def unreachable(self, e: httpx.HTTPError) -> RemoteError:
        if isinstance(e, httpx.TimeoutException):
            return RemoteError(f"the sandlot server at {self.base_url} did not answer in time")
        return RemoteError(f"cannot reach the sandlot server at {self.base_url}: {e}")

    def check(self, r: httpx.Response) -> None:
        """Raise the sandlot error an error response carries."""
        if r.status_code < 400:
            return
        try:
            body = r.json()
        except (ValueError, RecursionError):
            body = None
        err = wire.error_from_json(body) if isinstance(body, dict) else None
        if err is not None:
            raise err
        message = ""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message", ""))
        if r.status_code == 401:
            raise RemoteError(
                f"the sandlot server at {self.base_url} refused the API key: {message}"
            )
        raise RemoteError(
            f"the sandlot server at {self.base_url} answered {r.status_code}: "
            f"{message or r.text[:200]}"
        )

    def events(self, path: str, body: dict[str, Any], timeout: float) -> Iterator[tuple[str, Any]]:
        """The (event, data) pairs of a server-sent-event response, as they arrive."""
        try:
            with self.client.stream(
                "POST",
                path,
                json=body,
                headers={"Accept": "text/event-stream"},
                timeout=httpx.Timeout(timeout, connect=10.0),
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    self.check(r)
                event = "message"
                data: list[str] = []
                for line in r.iter_lines():
                    if line == "":
                        if data:
                            yield event, json.loads("\n".join(data))
                        event, data = "message", []
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
        except httpx.HTTPError as e:
            raise self.unreachable(e) from None
        except (ValueError, RecursionError):  # not JSON, or nested past what we parse
            raise RemoteError(f"the sandlot server at {self.base_url} sent a bad event") from None


class RemoteFiles:
    """`SandboxFiles` over the server's files endpoints (paths go as the caller gave them)."""

    def __init__(self, http: _Http, prefix: str) -> None:
        self._http = http
        self._prefix = prefix + "/files"

    def write(self, path: str, data: bytes | str) -> EntryInfo:
        _check_path(path)
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        got = self._http.json("PUT", self._prefix, params={"path": path}, content=raw)
        return wire.entry_from_json(got)

    def read(self, path: str, *, max_bytes: int) -> bytes:
        _check_path(path)
        http = self._http
        try:
            with http.client.stream("GET", self._prefix, params={"path": path}) as r:
                if r.status_code >= 400:
                    r.read()
                    http.check(r)
                parts: list[bytes] = []
                size = 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise LimitExceeded(
                            "file_size",
                            f"cannot read {path}: it is larger than the {max_bytes}-byte limit "
                            "(Limits.file_read_bytes)",
                        )
                    parts.append(chunk)
                return b"".join(parts)
        except httpx.HTTPError as e:
            raise http.unreachable(e) from None

    def list(self, path: str, depth: int = 1) -> list[EntryInfo]:
        _check_path(path)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise InvalidArgument(f"depth must be an integer of at least 1; got {depth!r}")
        got = self._http.json("GET", self._prefix + "/list", params={"path": path, "depth": depth})
        return [wire.entry_from_json(e) for e in got]

    def exists(self, path: str) -> bool:
        _check_path(path)
        got = self._http.json("GET", self._prefix + "/exists", params={"path": path})
        return bool(got["exists"])

    def remove(self, path: str) -> None:
        _check_path(path)
        self._http.request("DELETE", self._prefix, params={"path": path})

    def rename(self, old: str, new: str) -> EntryInfo:
        _check_path(old)
        _check_path(new)
        got = self._http.json("POST", self._prefix + "/rename", json={"old": old, "new": new})
        return wire.entry_from_json(got)

    def make_dir(self, path: str) -> bool:
        _check_path(path)
        return bool(
            self._http.json("POST", self._prefix + "/mkdir", json={"path": path})["created"]
        )

    def get_info(self, path: str) -> EntryInfo:
        _check_path(path)
        got = self._http.json("GET", self._prefix + "/stat", params={"path": path})
        return wire.entry_from_json(got)


class RemoteSandbox:
    """One sandbox on the server; `sandbox_id` and `tier` are the server's."""

    def __init__(self, http: _Http, info: dict[str, Any]) -> None:
        self._http = http
        self.sandbox_id = str(info["id"])
        self.tier = str(info["tier"])
        self.info = info
        self._prefix = f"/v1/sandboxes/{self.sandbox_id}"
        self._files = RemoteFiles(http, self._prefix)
        self._call_id: str | None = None  # the call running now, for interrupt()
        self._call_lock = threading.Lock()

    def network_log(self) -> list[ConnectionRecord]:
        """The server's gateway log for this sandbox."""
        got = self._http.json("GET", f"{self._prefix}/network/log")
        return [wire.record_from_json(r) for r in got["connections"]]

    @property
    def notes(self) -> list[str]:
        """What the sandbox's isolation lacks on the server, as the server says."""
        given = self.info.get("isolation_notes")
        return [str(n) for n in given] if isinstance(given, list) else []

    def described(self) -> tuple[str, Limits, dict[str, str]]:
        """The server's template, limits and metadata for this sandbox: a client that
        connects, forks or starts from a snapshot learns them from the server."""
        info = self.info
        metadata = info.get("metadata")
        return (
            str(info.get("template") or "python-data-analysis"),
            Limits.from_dict(info.get("limits")),
            {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
        )

    @property
    def files(self) -> RemoteFiles:
        return self._files

    def _call(
        self,
        what: str,
        body: dict[str, Any],
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> dict[str, Any]:
        # Each call carries an id of ours, so a kill reaches this call and no other: one
        # that arrives before it starts stops it from starting, one after it ended is void.
        call_id = "call_" + uuid.uuid4().hex
        with self._call_lock:
            self._call_id = call_id
        try:
            return self._stream(what, {**body, "call_id": call_id}, limits, on_stdout, on_stderr)
        finally:
            with self._call_lock:
                self._call_id = None

    def _stream(
        self,
        what: str,
        body: dict[str, Any],
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> dict[str, Any]:
        for event, data in self._http.events(
            f"{self._prefix}/{what}", body, limits.wall_time + CALL_MARGIN
        ):
            if event == "stdout" and on_stdout is not None:
                on_stdout(str(data["text"]))
            elif event == "stderr" and on_stderr is not None:
                on_stderr(str(data["text"]))
            elif event == "result":
                return dict(data)
            elif event == "error":
                raise wire.error_from_json(data) or RemoteError(f"the server said: {data}")
        raise RemoteError(
            f"the sandlot server at {self._http.base_url} ended the stream without a result"
        )

    def run_code(
        self,
        code: str,
        *,
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> Execution:
        body = {"code": code, "timeout": limits.wall_time, "limits": limits.to_dict()}
        return wire.execution_from_json(self._call("code", body, limits, on_stdout, on_stderr))

    def run_command(
        self,
        cmd: str,
        *,
        limits: Limits,
        stdin: str,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> CommandResult:
        body = {
            "cmd": cmd,
            "timeout": limits.wall_time,
            "stdin": stdin or None,
            "limits": limits.to_dict(),
        }
        return wire.command_from_json(self._call("commands", body, limits, on_stdout, on_stderr))

    def pause(self) -> None:
        """Pause on the server (saved there, freed; `POST …/resume` brings it back)."""
        self._http.json("POST", f"{self._prefix}/pause")

    def create_snapshot(self, name: str) -> SnapshotInfo:
        """A snapshot on the server, named for this API key."""
        got = self._http.json("POST", f"{self._prefix}/snapshots", json={"name": name})
        return snapshot_info(got)

    def fork(self, n: int) -> list[RemoteSandbox]:
        """n new sandboxes on the server from this one's state, each with its own client."""
        got = self._http.json("POST", f"{self._prefix}/fork", json={"n": n}, timeout=CREATE_TIMEOUT)
        return [
            RemoteSandbox(_Http(self._http.base_url, self._http.api_key), info)
            for info in got["sandboxes"]
        ]

    def interrupt(self) -> None:
        """Stop this client's call running on the server (a background command's kill); it
        ends there with `Interrupted`, which comes back through the call's own stream."""
        with self._call_lock:
            call_id = self._call_id
        if call_id is not None:
            self._http.json("POST", f"{self._prefix}/interrupt", json={"call_id": call_id})

    def set_timeout(self, timeout: float) -> None:
        """Move the server's deadline too: the server, not this client, reaps the sandbox."""
        self._http.json("POST", f"{self._prefix}/timeout", json={"timeout": timeout})

    def close(self) -> None:
        """Delete the sandbox on the server; one already gone, or a dead server, is fine."""
        try:
            self._http.request("DELETE", self._prefix)
        except (NotFound, SandboxClosed, RemoteError):
            pass
        finally:
            self._http.close()


class RemoteRuntime:
    """A `Runtime` whose sandboxes live on a `sandlot serve` host, which picks the tier."""

    implemented = True
    templates: frozenset[str] | None = None  # the server decides

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        requires: frozenset[str] = frozenset(),
        tier: str | None = None,
        timeout: float = 300.0,
        metadata: dict[str, str] | None = None,
        snapshot: str | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidArgument(f"base_url must be an http:// or https:// URL; got {base_url!r}")
        if not api_key:
            raise InvalidArgument(
                f"a sandbox on {base_url} needs an API key: pass api_key= or set "
                "SANDLOT_API_KEY (make one on the server with `sandlot keys create`)"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.name = "remote"  # until a sandbox is open: then the server's tier
        self.capabilities = frozenset(requires)
        self.requires = frozenset(requires)
        self.tier = tier
        self.timeout = timeout
        self.metadata = dict(metadata or {})
        self.snapshot = snapshot

    def _client(self) -> _Http:
        return _Http(self.base_url, self.api_key)

    def availability(self) -> Availability:
        http = _Http(self.base_url, None)
        try:
            http.request("GET", "/v1/health")
        except SandboxError as e:
            return Availability(False, str(e), f"start `sandlot serve` at {self.base_url}")
        finally:
            http.close()
        return Availability(True)

    def open(self, spec: SandboxSpec) -> RemoteSandbox:
        body = {
            "template": spec.template,
            "requires": sorted(self.requires),
            "tier": self.tier,
            "timeout": self.timeout,
            "envs": dict(spec.envs),
            "limits": spec.limits.to_dict(),
            "metadata": self.metadata,
        }
        if self.snapshot is not None:
            body["snapshot"] = self.snapshot
        if spec.network is not None:
            body["network"] = {
                "allow_out": spec.network.allow_out,
                "deny_out": spec.network.deny_out,
            }
        if spec.secrets:  # to the server's gateway only; it never sends them back
            body["secrets"] = spec.secrets.to_dict()
        return self._opened(
            lambda http: http.json("POST", "/v1/sandboxes", json=body, timeout=CREATE_TIMEOUT)
        )

    def connect(self, sandbox_id: str) -> RemoteSandbox:
        """Attach to the server's sandbox `sandbox_id`: a live one gets `timeout` more
        seconds from now, a paused one is resumed (with its state) for `timeout` seconds."""
        prefix = f"/v1/sandboxes/{sandbox_id}"

        def attach(http: _Http) -> Any:
            try:
                http.json("GET", prefix)
            except (NotFound, SandboxClosed):  # paused (or unknown: resume says which)
                return http.json(
                    "POST",
                    f"{prefix}/resume",
                    json={"timeout": self.timeout},
                    timeout=CREATE_TIMEOUT,
                )
            return http.json("POST", f"{prefix}/timeout", json={"timeout": self.timeout})

        return self._opened(attach)

    def _opened(self, ask: Any) -> RemoteSandbox:
        http = self._client()
        try:
            info = ask(http)
        except BaseException:
            http.close()
            raise
        self.name = str(info["tier"])
        return RemoteSandbox(http, info)

    def list_snapshots(self) -> list[SnapshotInfo]:
        """This API key's named snapshots on the server."""
        http = self._client()
        try:
            got = http.json("GET", "/v1/snapshots")
        finally:
            http.close()
        return [snapshot_info(s) for s in got["snapshots"]]

    def delete_snapshot(self, name: str) -> None:
        http = self._client()
        try:
            http.request("DELETE", f"/v1/snapshots/{name}")
        finally:
            http.close()


def snapshot_info(got: dict[str, Any]) -> SnapshotInfo:
    return SnapshotInfo(
        name=str(got["name"]),
        tier=str(got["tier"]),
        template=str(got["template"]),
        size=int(got["size"]),
        created=float(got["created"]),
    )
