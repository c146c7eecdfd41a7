"""The one implementation behind `Sandbox` and `AsyncSandbox`.

`SandboxCore` is synchronous and thread-safe: it checks arguments, serialises calls to the
runtime sandbox, enforces the sandbox's lifetime, and maps paths and limits. The sync face
calls it directly; the async face runs the same methods on a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidArgument, SandboxClosed, Unsupported
from ..models import (
    CommandResult,
    EntryInfo,
    Execution,
    Limits,
    NetworkPolicy,
    Secrets,
    SnapshotInfo,
    check_timeout,
)
from ..models import check_str_map as _check_str_map
from ..network.log import ConnectionRecord
from ..runtimes.base import (
    ForksItself,
    HasNetwork,
    HostedElsewhere,
    Interruptible,
    KeepsWarm,
    OutputCallback,
    ReportsIsolation,
    Restores,
    Runtime,
    RuntimeSandbox,
    SandboxSpec,
    Saves,
)
from ..runtimes.guest_paths import OUTPUTS
from ..runtimes.registry import check_requires, loaded_tiers, select, tier_named
from . import saved, template_network
from .background import BackgroundCommand

DEFAULT_TEMPLATE = "python-data-analysis"
OUTPUTS_DIR = OUTPUTS
MAX_CODE_BYTES = 4 << 20
MAX_FORKS = 64
# The file operations a front end may name (`files_op`), each to its `SandboxFiles` method.
FILE_OPS: dict[str, Callable[..., Any]] = {
    "list": lambda files, *a: files.list(*a),
    "exists": lambda files, *a: files.exists(*a),
    "remove": lambda files, *a: files.remove(*a),
    "rename": lambda files, *a: files.rename(*a),
    "make_dir": lambda files, *a: files.make_dir(*a),
    "get_info": lambda files, *a: files.get_info(*a),
}


class SandboxCore:
    """One sandbox's state on the host side, whichever tier runs it."""

    def __init__(
        self,
        template: str | None = None,
        *,
        requires: Iterable[str] = (),
        tier: str | None = None,
        timeout: float = 300.0,
        envs: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        metadata: Mapping[str, str] | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        snapshot: str | None = None,
        network: NetworkPolicy | Mapping[str, Any] | None = None,
        secrets: Secrets | Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.template = DEFAULT_TEMPLATE if template is None else _check_template(template)
        self.limits = _check_limits(limits)
        self.envs = _check_str_map(envs, "envs")
        self.metadata = _check_str_map(metadata, "metadata")
        self.network, self.secrets = _check_network(network, secrets)
        if self.network is not None:  # only a tier that enforces the policy may run it
            requires = {*check_requires(requires), "network"}
        lifetime = check_timeout(timeout, "timeout") or 300.0
        base_url = _base_url(base_url)
        if snapshot is not None:
            snapshot = saved.check_snapshot_name(snapshot)
            if base_url is None:
                self._from_saved("snapshots", snapshot, tier, lifetime)
                return
        if base_url is not None:
            # A sandbox on a `sandlot serve` host: the server selects the tier.
            from ..runtimes.remote import RemoteRuntime

            runtime: Runtime = RemoteRuntime(
                base_url,
                api_key or os.environ.get("SANDLOT_API_KEY"),
                requires=check_requires(requires),
                tier=tier,
                timeout=lifetime,
                metadata=self.metadata,
                snapshot=snapshot,  # a snapshot of this key's on the server
            )
        else:  # the template's recipe policy (and websearch's endpoint) apply on this host
            self.network, self.envs, self.secrets = template_network.apply(
                self.template, self.network, self.envs, self.secrets
            )
            if self.network is not None:
                requires = {*check_requires(requires), "network"}
            runtime = select(requires, tier, self.template)
        self._attach(runtime, runtime.open(self._spec()), lifetime, None)
        if base_url is None:
            template_network.after_open(self)

    def _spec(self) -> SandboxSpec:
        return SandboxSpec(
            template=self.template,
            limits=self.limits,
            envs=self.envs,
            network=self.network,
            secrets=self.secrets,
        )

    def _attach(
        self, runtime: Runtime, box: RuntimeSandbox, lifetime: float, sandbox_id: str | None
    ) -> None:
        self.runtime = runtime
        self.tier = runtime.name
        if isinstance(box, HostedElsewhere):  # the server's id, tier and settings
            self.tier, sandbox_id = box.tier, box.sandbox_id
            self.template, self.limits, self.metadata = box.described()
        self.id = sandbox_id or "sbx_" + uuid.uuid4().hex[:16]
        self._lifetime = lifetime
        self._lock = threading.RLock()
        self._closed: str | None = None
        self._deadline = time.monotonic() + lifetime
        self._box: RuntimeSandbox | None = box
        self._slot_guard = threading.Lock()  # the slot's owner changes, and interrupts, under it
        self._slot_owner: object | None = None
        self._notes = list(box.notes) if isinstance(box, ReportsIsolation) else []

    def _from_saved(self, kind: str, key: str, tier: str | None, lifetime: float) -> None:
        """Open a sandbox from a saved entry (a snapshot, or a paused sandbox)."""
        meta, state = saved.read(kind, key)
        saved_tier = str(meta.get("tier"))
        if tier is not None and tier != saved_tier:
            raise InvalidArgument(
                f"{key!r} was saved by the {saved_tier} tier and can only start there; "
                f"drop tier={tier!r}"
            )
        self.template = str(meta.get("template") or self.template)
        self.limits = saved.limits_from_json(meta.get("limits"))
        self.envs = _check_str_map(meta.get("envs") or {}, "envs")
        self.metadata = {**_check_str_map(meta.get("metadata") or {}, "metadata"), **self.metadata}
        if self.network is None:  # the saved policy comes with it (its secrets never do)
            self.network = NetworkPolicy.parse(meta.get("network") or None)
        runtime = tier_named(saved_tier)
        box = _restorer(runtime).restore(state, self._spec(), meta.get("tier_meta") or {})
        self._attach(runtime, box, lifetime, key if kind == "sandboxes" else None)

    @classmethod
    def _unopened(
        cls, template: str, limits: Limits, envs: dict[str, str], metadata: dict[str, str]
    ) -> SandboxCore:
        """A core with its settings but no sandbox yet: `_attach` or `_from_saved` opens it."""
        core = cls.__new__(cls)
        core.template, core.limits, core.envs, core.metadata = template, limits, envs, metadata
        core.network, core.secrets = None, Secrets()
        return core

    def _child(self) -> SandboxCore:
        """An unopened core with this one's settings, network and secrets (a fork)."""
        child = self._unopened(self.template, self.limits, dict(self.envs), dict(self.metadata))
        child.network, child.secrets = self.network, self.secrets
        return child

    @classmethod
    def connect(
        cls,
        sandbox_id: str,
        *,
        timeout: float = 300.0,
        base_url: str | None = None,
        api_key: str | None = None,
    ) -> SandboxCore:
        """Resume a sandbox paused with `pause()` (from this process or another); with
        `base_url` (or $SANDLOT_URL), the server's sandbox: resumed if paused, attached to
        if live; either way it lives `timeout` seconds from now."""
        if not isinstance(sandbox_id, str) or not saved.SANDBOX_ID.fullmatch(sandbox_id):
            raise InvalidArgument(f"not a sandbox id: {sandbox_id!r} (they look like sbx_…)")
        core = cls._unopened(DEFAULT_TEMPLATE, Limits(), {}, {})
        lifetime = check_timeout(timeout, "timeout") or 300.0
        remote = _remote_runtime(base_url, api_key, timeout=lifetime)
        if remote is not None:
            core._attach(remote, remote.connect(sandbox_id), lifetime, None)
            return core
        core._from_saved("sandboxes", sandbox_id, None, lifetime)
        saved.remove("sandboxes", sandbox_id)  # resumed: the paused copy is spent
        return core

    @staticmethod
    def list_snapshots(
        base_url: str | None = None, api_key: str | None = None
    ) -> list[SnapshotInfo]:
        """The named snapshots on this host, or the API key's on a server."""
        remote = _remote_runtime(base_url, api_key)
        return saved.snapshots() if remote is None else remote.list_snapshots()

    @staticmethod
    def delete_snapshot(name: str, base_url: str | None = None, api_key: str | None = None) -> None:
        name = saved.check_snapshot_name(name)
        remote = _remote_runtime(base_url, api_key)
        if remote is None:
            saved.remove("snapshots", name)
        else:
            remote.delete_snapshot(name)

    # -- saving: pause, snapshots, fork -----------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "template": self.template,
            "limits": saved.limits_to_json(self.limits),
            "envs": self.envs,
            "metadata": self.metadata,
            **({"network": _policy_json(self.network)} if self.network is not None else {}),
        }

    def _saver(self, box: RuntimeSandbox, verb: str) -> Saves:
        if not isinstance(box, Saves):
            raise Unsupported(
                f"the {self.tier} tier cannot {verb} a sandbox (it cannot save its running "
                "processes); use tier='microvm' or the wasm tier for pause, fork and snapshots"
            )
        return box

    def pause(self) -> str:
        """Save the whole sandbox to this host's store and free it; `connect(id)` resumes."""
        with self._lock:
            box = self._live()
            if isinstance(box, HostedElsewhere):
                box.pause()
            else:
                saver = self._saver(box, "pause")
                meta = {**self._meta(), "id": self.id}
                tier_meta: dict[str, Any] = {}

                def fill(state: Path) -> None:
                    tier_meta.update(saver.save(state) or {})
                    meta["tier_meta"] = tier_meta

                saved.write("sandboxes", self.id, meta, fill, replace=True)
            self.close("paused")
        return self.id

    def create_snapshot(self, name: str) -> SnapshotInfo:
        """Save this sandbox's current state under `name`; it keeps running."""
        name = saved.check_snapshot_name(name)
        with self._lock:
            box = self._live()
            if isinstance(box, HostedElsewhere):
                return box.create_snapshot(name)
            saver = self._saver(box, "snapshot")
            meta = {**self._meta(), "name": name}

            def fill(state: Path) -> None:
                meta["tier_meta"] = saver.save(state) or {}

            written = saved.write("snapshots", name, meta, fill)
        return saved.info(written)

    def fork(self, n: int = 1) -> list[SandboxCore]:
        """n new sandboxes that go on from this one's current state, each on its own."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_FORKS:
            raise InvalidArgument(f"n must be an integer from 1 to {MAX_FORKS}; got {n!r}")
        with self._lock:
            box = self._live()
            if isinstance(box, ForksItself):  # asked first: it knows a faster way
                return self._forked_by_tier(box.fork(n))
            saver = self._saver(box, "fork")
            restorer = _restorer(self.runtime)
            with saved.scratch("sandlot-fork-") as state:
                tier_meta = saver.save(Path(state)) or {}
                children: list[SandboxCore] = []
                try:
                    for _ in range(n):
                        child = self._child()
                        child_box = restorer.restore(Path(state), child._spec(), tier_meta)
                        child._attach(self.runtime, child_box, self._lifetime, None)
                        children.append(child)
                except BaseException:
                    for child in children:
                        child.close()
                    raise
        return children

    def _forked_by_tier(self, boxes: Sequence[RuntimeSandbox]) -> list[SandboxCore]:
        """Cores for boxes a tier forked itself (a remote one carries its server's id)."""
        lifetime = max(1.0, self._deadline - time.monotonic())
        children = []
        for child_box in boxes:
            child = self._child()
            child._attach(self.runtime, child_box, lifetime, None)
            children.append(child)
        return children

    def background(self, *args: Any, **kwargs: Any) -> BackgroundCommand:
        """`run_command` on its own thread, with a handle to follow, wait for or kill it."""
        return BackgroundCommand(self, args, kwargs)

    @contextlib.contextmanager
    def call_slot(self, owner: object) -> Iterator[None]:
        """Hold the sandbox's call slot for `owner` (whose calls run inside)."""
        with self._lock:
            with self._slot_guard:
                self._slot_owner = owner
            try:
                yield
            finally:
                with self._slot_guard:
                    self._slot_owner = None

    def interrupt(self, owner: object | None = None) -> bool:
        """Stop the call running now (only `owner`'s, when given), if the tier can.

        With `owner`, the check and the interrupt are one step under the slot's guard, so
        an interrupt can never land on the call that runs after the owner's ended."""
        with self._slot_guard:
            box = self._box
            if owner is not None and self._slot_owner is not owner:
                return False
            if not isinstance(box, Interruptible):
                return False
            box.interrupt()
        return True

    def network_log(self) -> list[ConnectionRecord]:
        """Every connection the sandbox tried, from its tier's gateway attachment. Not
        under the call lock: the log can be read while a command runs."""
        box = self._live()
        if not isinstance(box, HasNetwork):
            raise Unsupported(
                f"the {self.tier} tier keeps no network log (its sandboxes have no network); "
                "create the sandbox with network={'allow_out': [...]} on a tier that has it"
            )
        return box.network_log()

    @property
    def isolation_notes(self) -> list[str]:
        """What this sandbox's isolation lacks on this host, in words (empty: nothing).
        Read once, when the sandbox was opened, so asking never waits for a call."""
        return list(self._notes)

    # -- lifetime --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def set_timeout(self, timeout: float) -> None:
        """Let the sandbox live `timeout` more seconds from now."""
        seconds = check_timeout(timeout, "timeout")
        assert seconds is not None
        with self._lock:
            box = self._live()
            if isinstance(box, HostedElsewhere):  # its host keeps a deadline too
                box.set_timeout(seconds)
            self._deadline = time.monotonic() + seconds

    def close(self, reason: str = "closed") -> None:
        """Free everything the sandbox holds. Idempotent."""
        with self._lock:
            if self._closed is not None:
                return
            self._closed = reason
            box, self._box = self._box, None
        if box is not None:
            box.close()

    def _live(self) -> RuntimeSandbox:
        if self._closed is None and time.monotonic() > self._deadline:
            self.close("expired")
        if self._closed is not None or self._box is None:
            why = {
                "expired": "it expired (its timeout passed; use timeout= or set_timeout())",
                "paused": f"it was paused (resume it with Sandbox.connect({self.id!r}))",
            }.get(self._closed or "", "it was closed")
            raise SandboxClosed(f"sandbox {self.id} can run nothing more: {why}")
        return self._box

    # -- code and commands -----------------------------------------------------------------

    def run_code(
        self,
        code: str,
        *,
        timeout: float | None = None,
        limits: Limits | None = None,
        on_stdout: OutputCallback | None = None,
        on_stderr: OutputCallback | None = None,
    ) -> Execution:
        _check_code(code, "code")
        limits = self._call_limits(limits, timeout)
        queued = time.perf_counter()
        with self._lock:
            waited = time.perf_counter() - queued
            ex = self._live().run_code(
                code, limits=limits, on_stdout=on_stdout, on_stderr=on_stderr
            )
        return _with_queue(ex, waited)

    def run_command(
        self,
        cmd: str,
        *,
        timeout: float | None = 60.0,
        envs: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        limits: Limits | None = None,
        on_stdout: OutputCallback | None = None,
        on_stderr: OutputCallback | None = None,
    ) -> CommandResult:
        _check_code(cmd, "cmd")
        prefix = _command_prefix(_check_str_map(envs, "envs"), cwd)
        script = f"(\n{prefix}{cmd}\n)" if prefix else cmd  # per-call settings don't persist
        limits = self._call_limits(limits, timeout)
        if stdin is not None and not isinstance(stdin, str):
            raise InvalidArgument(f"stdin must be a str; got {type(stdin).__name__}")
        with self._lock:
            return self._live().run_command(
                script, limits=limits, stdin=stdin or "", on_stdout=on_stdout, on_stderr=on_stderr
            )

    def _call_limits(self, limits: Limits | None, timeout: float | None) -> Limits:
        """The sandbox's limits with one call's overrides: `timeout` wins over wall_time."""
        base = self.limits
        if limits is not None:
            given = _check_limits(limits)
            if given.memory_bytes != base.memory_bytes:
                raise InvalidArgument(
                    "memory_bytes is a per-sandbox limit (the guest's memory is one store); "
                    "set it in Sandbox.create(limits=...)"
                )
            if given.disk_bytes != base.disk_bytes:
                raise InvalidArgument(
                    "disk_bytes is a per-sandbox limit (the sandbox's files share one cap); "
                    "set it in Sandbox.create(limits=...)"
                )
            if (given.cpu_fuel is None) != (base.cpu_fuel is None):
                raise InvalidArgument(
                    "cpu_fuel per call needs a sandbox created with Limits(cpu_fuel=...), "
                    "and a metered sandbox's calls always carry a fuel limit"
                )
            base = given
        return base.merged(wall_time=check_timeout(timeout))

    # -- files -----------------------------------------------------------------------------

    def files_write(self, path: str, data: str | bytes) -> EntryInfo:
        if not isinstance(data, str | bytes | bytearray):
            raise InvalidArgument(f"data must be str or bytes; got {type(data).__name__}")
        with self._lock:
            return self._live().files.write(
                path, bytes(data) if not isinstance(data, str) else data
            )

    def files_read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        if format not in ("text", "bytes"):
            raise InvalidArgument(f"format must be 'text' or 'bytes'; got {format!r}")
        with self._lock:
            data = self._live().files.read(path, max_bytes=self.limits.file_read_bytes)
        return data.decode("utf-8", "replace") if format == "text" else data

    def files_op(self, op: str, *args: Any) -> Any:
        """list, exists, remove, rename, make_dir, get_info: straight to the sandbox's files.
        Any other name is refused, so a front end can't reach past the file API."""
        method = FILE_OPS.get(op) if isinstance(op, str) else None
        if method is None:
            raise InvalidArgument(f"unknown file operation {op!r}; one of {sorted(FILE_OPS)}")
        with self._lock:
            return method(self._live().files, *args)

    def artifacts_list(self) -> list[EntryInfo]:
        with self._lock:
            files = self._live().files
            if not files.exists(OUTPUTS_DIR):
                return []
            return [e for e in files.list(OUTPUTS_DIR, 8) if e.type == "file"]

    def artifacts_read(self, name: str) -> bytes:
        if not isinstance(name, str) or not name:
            raise InvalidArgument("artifact name must be a non-empty str")
        path = posixpath.normpath(posixpath.join(OUTPUTS_DIR, name))
        if not path.startswith(OUTPUTS_DIR + "/"):
            raise InvalidArgument(f"artifact name {name!r} points outside {OUTPUTS_DIR}")
        with self._lock:
            return self._live().files.read(path, max_bytes=self.limits.file_read_bytes)


def drain_warm() -> None:
    """Close the sandboxes every tier used here keeps ready (warm spares, VM pools), waiting
    for those still starting: what a host process calls when it stops on a signal, since
    then no `atexit` hook runs."""
    for runtime in loaded_tiers():
        if isinstance(runtime, KeepsWarm):
            runtime.drain()


def _restorer(runtime: Runtime) -> Restores:
    if not isinstance(runtime, Restores):
        raise Unsupported(f"the {runtime.name} tier cannot restore saved sandboxes")
    return runtime


def _base_url(given: str | None) -> str | None:
    """The server to use: `given`, else $SANDLOT_URL; "" means this host whatever the
    environment says (what `sandlot serve` itself passes)."""
    url = os.environ.get("SANDLOT_URL") if given is None else given
    return url or None


def _remote_runtime(base_url: str | None, api_key: str | None, *, timeout: float = 300.0) -> Any:
    """The `RemoteRuntime` for `base_url` (or $SANDLOT_URL), else None: work is local."""
    base_url = _base_url(base_url)
    if base_url is None:
        return None
    from ..runtimes.remote import RemoteRuntime

    return RemoteRuntime(base_url, api_key or os.environ.get("SANDLOT_API_KEY"), timeout=timeout)


def _with_queue(ex: Execution, waited: float) -> Execution:
    t = ex.timings
    timings = replace(t, queued=t.queued + waited, total=t.total + waited)
    return replace(ex, timings=timings)


def _check_network(network: object, secrets: object) -> tuple[NetworkPolicy | None, Secrets]:
    """The policy (None: no network) and the secrets, checked; secrets need a network.
    Errors never quote a secret's value (Secrets' own checks name hosts and headers)."""
    policy = NetworkPolicy.parse(network)  # type: ignore[arg-type]  # parse checks the type
    if secrets is None or isinstance(secrets, Secrets):
        held = secrets or Secrets()
    elif isinstance(secrets, Mapping):
        held = Secrets(secrets)
    else:
        raise InvalidArgument(f"secrets must map host to {{header: value}}; got {type(secrets)}")
    if held and policy is None:
        raise InvalidArgument(
            f"secrets for {sorted(held)} need a network: pass network={{'allow_out': [...]}}"
        )
    return policy, held


def _policy_json(policy: NetworkPolicy) -> dict[str, list[str]]:
    """A policy as a saved sandbox keeps it (secrets are never written to disk)."""
    return {"allow_out": list(policy.allow_out), "deny_out": list(policy.deny_out)}


def _check_template(template: object) -> str:
    if not isinstance(template, str) or not template:
        raise InvalidArgument(f"template must be a non-empty str; got {template!r}")
    return template


def _check_limits(limits: object) -> Limits:
    if limits is None:
        return Limits()
    if not isinstance(limits, Limits):
        raise InvalidArgument(f"limits must be a sandlot.Limits; got {type(limits).__name__}")
    return limits


def _check_code(code: object, name: str) -> None:
    if not isinstance(code, str):
        raise InvalidArgument(f"{name} must be a str; got {type(code).__name__}")
    if len(code) > MAX_CODE_BYTES:
        raise InvalidArgument(f"{name} is {len(code)} characters; the limit is {MAX_CODE_BYTES}")


def _command_prefix(envs: dict[str, str], cwd: str | None) -> str:
    """Per-command environment and directory, as the shell itself would set them."""
    import shlex

    parts = []
    if cwd is not None:
        if not isinstance(cwd, str) or "\0" in cwd:
            raise InvalidArgument("cwd must be a str without NUL")
        parts.append(f"cd {shlex.quote(cwd)} || exit 1")
    for k, v in envs.items():
        if not k.isidentifier():
            raise InvalidArgument(f"envs key {k!r} is not a valid variable name")
        parts.append(f"export {k}={shlex.quote(v)}")
    return "".join(p + "\n" for p in parts)
