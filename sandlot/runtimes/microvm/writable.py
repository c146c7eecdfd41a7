"""The size of a microvm's writable area, from `Limits.disk_bytes`.

The guest's init mounts one tmpfs at /run (seen at /tmp, /home, /root and /var/tmp) of half
the VM's memory, and the template snapshot keeps it so: that is the default cap. A sandbox
given its own `disk_bytes` has the tmpfs remounted at that size right after its VM is
restored from the template (one shell command in the guest, only then). A saved sandbox
keeps its size in its memory. The cap is at most 3/4 of the VM's memory: tmpfs pages are
guest RAM, and a fuller area would leave the guest's OOM killer, not ENOSPC, to stop a
writer.
"""

from __future__ import annotations

from ...errors import SandboxError
from ...guest.agent import protocol
from ...models import Limits
from .channel import Channel
from .vmm import VM

WRITABLE = "/run"


def size_bytes(limits: Limits, memory_mib: int) -> int:
    """The writable area's cap for `limits` in a VM of `memory_mib`."""
    if limits.disk_bytes is None:
        return (memory_mib << 20) // 2
    return min(limits.disk_bytes, (memory_mib << 20) * 3 // 4)


def resize(vm: VM, channel: Channel, limits: Limits, memory_mib: int) -> tuple[VM, Channel]:
    """Remount the writable area of a VM fresh from the template at the sandbox's cap (the
    template's half of memory needs nothing); the VM is killed if that fails."""
    size = size_bytes(limits, memory_mib)
    if size == (memory_mib << 20) // 2:
        return vm, channel
    request = protocol.request(
        protocol.OP_EXEC,
        cmd=f"mount -o remount,size={size} {WRITABLE}",
        stdin="",
        output_bytes=4096,
    )
    try:
        reply = channel.call(request, RESIZE_TIMEOUT)
        if reply.get("exit_code") != 0:
            raise SandboxError(f"the microvm guest could not resize its disk: {reply}")
    except BaseException:
        vm.kill()
        raise
    return vm, channel


RESIZE_TIMEOUT = 30.0
