"""The server's values as response bodies: one place that shapes each, for every route
that answers with it."""

from __future__ import annotations

from datetime import UTC, datetime

from .. import wire
from ..models import EntryInfo, SnapshotInfo
from .commands import Job, error_of
from .sandboxes import Entry
from .schemas import CommandStatusOut, EntryOut, LimitsOut, OutputEvent, SandboxOut, SnapshotOut


def sandbox_out(entry: Entry) -> SandboxOut:
    core = entry.core
    return SandboxOut(
        id=core.id,
        tier=core.tier,
        template=core.template,
        metadata=dict(core.metadata),
        limits=LimitsOut(**core.limits.to_dict()),
        created_at=datetime.fromtimestamp(entry.created, UTC),
        expires_at=datetime.fromtimestamp(entry.deadline, UTC),
        isolation_notes=core.isolation_notes,
    )


def snapshot_out(info: SnapshotInfo) -> SnapshotOut:
    return SnapshotOut(
        name=info.name, tier=info.tier, template=info.template, size=info.size, created=info.created
    )


def entry_out(info: EntryInfo) -> EntryOut:
    return EntryOut(**wire.entry_to_json(info))


def command_status(job: Job, offset: int) -> CommandStatusOut:
    """A background command's state, and its output from event `offset` on."""
    snap = job.read(offset)
    return CommandStatusOut(
        id=job.id,
        sandbox_id=job.sandbox_id,
        state=snap.state,
        exit_code=snap.result.exit_code if snap.result is not None else None,
        stdout="".join(t for _, s, t in snap.events if s == "stdout"),
        stderr="".join(t for _, s, t in snap.events if s == "stderr"),
        events=[OutputEvent(offset=o, stream=s, text=t) for o, s, t in snap.events],
        next_offset=snap.next_offset,
        dropped=snap.dropped,
        result=wire.command_to_json(snap.result) if snap.result is not None else None,
        error=wire.error_to_json(error_of(snap.error))["error"] if snap.error is not None else None,
    )
