"""sandlot: run untrusted code - above all code that AI agents write - safely and fast.

from sandlot import Sandbox
with Sandbox.create() as sbx:
    sbx.run_code("x = 41")
    print(sbx.run_code("x + 1").text)   # 42
"""

from __future__ import annotations

from .errors import (
    GuestProtocolError,
    ImageError,
    ImageMissing,
    Interrupted,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    SandboxClosed,
    SandboxError,
    TimeoutError,
    Unsatisfiable,
    Unsupported,
)
from .models import (
    CommandResult,
    ConnectionRecord,
    EntryInfo,
    Execution,
    ExecutionError,
    Limits,
    Logs,
    NetworkPolicy,
    Result,
    Secrets,
    SnapshotInfo,
    Timings,
)
from .sdk._async.sandbox import AsyncCommandHandle, AsyncSandbox
from .sdk._sync.sandbox import CommandHandle, Sandbox

__version__ = "0.1.0"

__all__ = [
    "AsyncCommandHandle",
    "AsyncSandbox",
    "CommandHandle",
    "CommandResult",
    "ConnectionRecord",
    "EntryInfo",
    "Execution",
    "ExecutionError",
    "GuestProtocolError",
    "ImageError",
    "ImageMissing",
    "Interrupted",
    "InvalidArgument",
    "LimitExceeded",
    "Limits",
    "Logs",
    "NetworkPolicy",
    "NotFound",
    "Result",
    "Sandbox",
    "SandboxClosed",
    "SandboxError",
    "Secrets",
    "SnapshotInfo",
    "Timings",
    "TimeoutError",
    "Unsatisfiable",
    "Unsupported",
]
