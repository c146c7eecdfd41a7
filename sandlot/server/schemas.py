"""Request and response bodies. Constraints live here so bad input is a 422 naming the field
before any sandbox is touched; `extra="forbid"` turns a misspelt field into an error too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..models import ConnectionRecord
from ..sdk.core import MAX_CODE_BYTES

_MAX_PATH = 16384
SNAPSHOT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,50}$"
"""The SDK's snapshot names, short enough for the server to prefix with the key's id."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _unicode(text: str) -> str:
    """JSON can carry a lone surrogate (`"\\ud800"`) that no guest, label or response can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (a lone surrogate is not)") from None
    return text


Text = Annotated[str, AfterValidator(_unicode)]
"""A str in a mapping (envs, metadata): its values are not checked as str fields are."""


class LimitsIn(_Body):
    """`sandlot.Limits`; fields left out keep their defaults."""

    wall_time: float | None = Field(None, gt=0, le=86400, allow_inf_nan=False)
    cpu_fuel: int | None = Field(None, gt=0, le=1 << 62)
    memory_bytes: int | None = Field(None, ge=64 << 20, le=1 << 40)
    output_bytes: int | None = Field(None, gt=0, le=1 << 30)
    file_read_bytes: int | None = Field(None, gt=0, le=1 << 40)
    disk_bytes: int | None = Field(None, ge=1 << 20, le=1 << 40)


NetEntry = Annotated[str, Field(min_length=1, max_length=300)]


class NetworkIn(_Body):
    """Where the sandbox may connect, in E2B's shape (`sandlot.NetworkPolicy.parse` checks
    each entry); left out, or with nothing allowed: no network at all."""

    allow_out: list[NetEntry] = Field(default_factory=list, max_length=256)
    deny_out: list[NetEntry] = Field(default_factory=list, max_length=256)
    allow_internet_access: bool | None = None


class CreateIn(_Body):
    template: str | None = Field(None, min_length=1, max_length=256)
    requires: list[str] = Field(default_factory=list, max_length=32)
    tier: str | None = Field(None, min_length=1, max_length=64)
    timeout: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Seconds the sandbox lives"
    )
    envs: dict[Text, Text] = Field(default_factory=dict, max_length=256)
    limits: LimitsIn | None = None
    metadata: dict[Text, Text] = Field(default_factory=dict, max_length=64)
    snapshot: str | None = Field(
        None, pattern=SNAPSHOT_NAME, description="Start from this key's named snapshot"
    )
    network: NetworkIn | None = None
    secrets: dict[
        Annotated[str, Field(max_length=253)], Annotated[dict[str, str], Field(max_length=32)]
    ] = Field(
        default_factory=dict,
        max_length=32,
        repr=False,  # write-only: no response, log or repr ever shows a value
        description="host -> {header: value} the gateway adds to that host's requests; "
        "never echoed back",
    )


CALL_ID = r"^[A-Za-z0-9_-]{1,64}$"
"""A client's name for one call, so that an interrupt reaches that call and no other."""


class LimitsOut(BaseModel):
    wall_time: float
    cpu_fuel: int | None
    memory_bytes: int
    output_bytes: int
    file_read_bytes: int
    disk_bytes: int | None


class SandboxOut(BaseModel):
    id: str
    tier: str
    template: str
    metadata: dict[str, str]
    limits: LimitsOut | None = None
    created_at: datetime
    expires_at: datetime
    isolation_notes: list[str] = Field(
        default_factory=list, description="What this sandbox's isolation lacks on the server"
    )


class NetworkLogOut(BaseModel):
    connections: list[ConnectionRecord]  # the model's own dataclass: one definition


class SandboxList(BaseModel):
    sandboxes: list[SandboxOut]


class TimeoutIn(_Body):
    timeout: float = Field(gt=0, allow_inf_nan=False, description="Seconds more, from now")


class ResumeIn(_Body):
    timeout: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Seconds the resumed sandbox lives"
    )


class SnapshotIn(_Body):
    name: str = Field(pattern=SNAPSHOT_NAME)


class SnapshotOut(BaseModel):
    name: str
    tier: str
    template: str
    size: int
    created: float


class SnapshotList(BaseModel):
    snapshots: list[SnapshotOut]


class InterruptIn(_Body):
    call_id: str | None = Field(
        None, pattern=CALL_ID, description="Stop only this call (the `call_id` it was given)"
    )


class InterruptOut(BaseModel):
    interrupted: bool


class ForkIn(_Body):
    n: int = Field(1, ge=1, le=16)


class PausedOut(BaseModel):
    id: str
    state: str


class CodeIn(_Body):
    code: str = Field(max_length=MAX_CODE_BYTES)
    timeout: float | None = Field(None, gt=0, le=86400, allow_inf_nan=False)
    limits: LimitsIn | None = Field(None, description="This call's limits (memory: per sandbox)")
    call_id: str | None = Field(None, pattern=CALL_ID, description="Names the call for interrupt")


class CommandIn(_Body):
    cmd: str = Field(max_length=MAX_CODE_BYTES)
    timeout: float | None = Field(60.0, gt=0, le=86400, allow_inf_nan=False)
    envs: dict[Text, Text] | None = Field(None, max_length=256)
    cwd: str | None = Field(None, max_length=_MAX_PATH)
    stdin: str | None = Field(None, max_length=MAX_CODE_BYTES)
    limits: LimitsIn | None = Field(None, description="This call's limits (memory: per sandbox)")
    background: bool = Field(
        False, description="Answer 202 with a command handle at once; follow it at /commands/{id}"
    )
    call_id: str | None = Field(None, pattern=CALL_ID, description="Names the call for interrupt")


class CommandHandleOut(BaseModel):
    id: str
    sandbox_id: str
    state: str


class OutputEvent(BaseModel):
    offset: int
    stream: str
    text: str


class CommandStatusOut(BaseModel):
    """A background command from an offset: its output since then and, once it ended, its
    result (`exit_code`, the full `result`) or the `error` it ended with."""

    id: str
    sandbox_id: str
    state: str = Field(description="running, exited, failed or killed")
    exit_code: int | None
    stdout: str = Field(description="stdout text of the events from `offset` on")
    stderr: str
    events: list[OutputEvent]
    next_offset: int = Field(description="Pass as `offset` to get only what came after")
    dropped: int = Field(description="Events from `offset` on the bounded log had dropped")
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class StdinIn(_Body):
    data: str = Field(max_length=MAX_CODE_BYTES)


class RenameIn(_Body):
    old: str = Field(min_length=1, max_length=_MAX_PATH)
    new: str = Field(min_length=1, max_length=_MAX_PATH)


class MkdirIn(_Body):
    path: str = Field(min_length=1, max_length=_MAX_PATH)


class EntryOut(BaseModel):
    name: str
    path: str
    type: str
    size: int
    modified: float
    symlink_target: str | None = None


class ErrorOut(BaseModel):
    """`{"error": {"type": "TimeoutError", "message": "...", "limit"?: "...", ...}}`"""

    error: dict[str, Any]


MAX_PATH = _MAX_PATH
