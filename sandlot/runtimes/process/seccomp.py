"""The process tier's seccomp filter, as a classic BPF program built with the stdlib.

bwrap loads it (`--seccomp FD`) just before it starts the agent, so it binds every process
in the sandbox. It refuses, with EPERM:
- new user namespaces (clone/unshare with CLONE_NEWUSER) and every other namespace flag of
  unshare; setns; clone3 answers ENOSYS so that libc falls back to clone, whose flags we
  can see;
- ptrace and reading/writing other processes' memory;
- the kernel keyrings (keyctl, add_key, request_key);
- mount, umount2, pivot_root and the new mount API; bpf, perf_event_open, userfaultfd;
- loading kernels or modules, swap, reboot, accounting, and io_uring;
- any system call of another ABI (x32, i386), which would slip past the numbers above.
"""

from __future__ import annotations

import errno
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# BPF opcodes
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
ALL_NAMESPACES = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME
)

# x86_64 system call numbers
CLONE = 56
UNSHARE = 272
CLONE3 = 435
DENIED = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "acct": 163,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "finit_module": 313,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "quotactl": 179,
    "syslog": 103,
    "setns": 308,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "lookup_dcookie": 212,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
}

# offsets in struct seccomp_data
_NR = 0
_ARCH = 4
_ARG0_LOW = 16  # little-endian: the low 32 bits of args[0]


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program() -> bytes:
    """The filter as an array of `struct sock_filter`, as `bwrap --seccomp` reads it."""
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    nosys = SECCOMP_RET_ERRNO | errno.ENOSYS
    out: list[bytes] = []
    # Labels are resolved by building the tail first: the jumps below are relative.
    denied = sorted(DENIED.values())
    # Layout:
    #  0 ld arch
    #  1 jeq X86_64 ? next : deny_all
    #  2 ld nr
    #  3 jge X32 bit ? deny_all : next
    #  4 jeq clone3 -> ret ENOSYS
    #  5 jeq clone -> check flags
    #  6 jeq unshare -> check flags
    #  ... jeq each denied -> ret EPERM
    #  allow
    #  check flags: ld arg0 low; jset namespaces (or NEWUSER for clone) -> EPERM else allow
    n = len(denied)
    # indices
    i_allow = 7 + n
    i_clone_check = i_allow + 1  # ld arg0; jset NEWUSER; allow; deny
    i_unshare_check = i_clone_check + 4  # ld arg0; jset ALL; allow; deny
    i_deny = i_unshare_check + 4
    i_nosys = i_deny + 1

    def jump(at: int, to: int) -> int:
        offset = to - at - 1
        if not 0 <= offset < 256:
            raise ValueError("seccomp jump out of range")
        return offset

    out.append(_insn(_LD_W_ABS, 0, 0, _ARCH))  # 0
    out.append(_insn(_JEQ_K, 0, jump(1, i_deny), AUDIT_ARCH_X86_64))  # 1
    out.append(_insn(_LD_W_ABS, 0, 0, _NR))  # 2
    out.append(_insn(_JGE_K, jump(3, i_deny), 0, X32_SYSCALL_BIT))  # 3
    out.append(_insn(_JEQ_K, jump(4, i_nosys), 0, CLONE3))  # 4
    out.append(_insn(_JEQ_K, jump(5, i_clone_check), 0, CLONE))  # 5
    out.append(_insn(_JEQ_K, jump(6, i_unshare_check), 0, UNSHARE))  # 6
    for j, nr in enumerate(denied):
        at = 7 + j
        out.append(_insn(_JEQ_K, jump(at, i_deny), 0, nr))
    out.append(_insn(_RET_K, 0, 0, SECCOMP_RET_ALLOW))  # i_allow
    for flags in (CLONE_NEWUSER, ALL_NAMESPACES):
        at = len(out)
        out.append(_insn(_LD_W_ABS, 0, 0, _ARG0_LOW))
        out.append(_insn(_JSET_K, 1, 0, flags))  # set: skip the allow
        out.append(_insn(_RET_K, 0, 0, SECCOMP_RET_ALLOW))
        out.append(_insn(_RET_K, 0, 0, deny))
        assert at in (i_clone_check, i_unshare_check)
    assert len(out) == i_deny
    out.append(_insn(_RET_K, 0, 0, deny))  # i_deny
    out.append(_insn(_RET_K, 0, 0, nosys))  # i_nosys
    return b"".join(out)
