"""Landlock for the process tier's agent (runs in the guest, stdlib only: ctypes).

`enforce(config)` restricts the calling process, and every process it starts afterwards,
to: read and execute anywhere; write, create, remove, rename only beneath the folders in
`config["write"]` (`/home/user`, `/tmp`, `/dev/shm`); read, write and ioctl (no create)
on the existing files beneath `config["devices"]` (`/dev`: null, tty, pts, GPUs) and
`config["proc"]` (`/proc`: `oom_score_adj`). Rights the kernel's Landlock ABI does not
know are masked out: ABI 2 adds REFER (renames across folders), 3 TRUNCATE, 5 IOCTL_DEV,
6 scoping (no signals or abstract unix sockets to processes outside the sandbox).

ABI 1 is not used: it forbids every rename or link across folders (pip, editors and
`os.rename` would fail), so there the process tier runs without Landlock and says so.

Raw system calls (x86_64 and aarch64 share the numbers): 444 landlock_create_ruleset,
445 landlock_add_rule, 446 landlock_restrict_self; `prctl(PR_SET_NO_NEW_PRIVS)` first.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Any  # the agent imports it anyway (pipe_main)

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

# Every filesystem right each ABI knows (ABI 4 adds network rights, 6 scopes, 7 logging).
FS_BY_ABI = {
    1: (1 << 13) - 1,
    2: (1 << 14) - 1,
    3: (1 << 15) - 1,
    4: (1 << 15) - 1,
    5: (1 << 16) - 1,
}
MIN_ABI = 2
READ = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # valid on a non-folder
USE_FILES = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV  # existing files, no creating


class LandlockError(OSError):
    """Landlock could not be applied (the message says which step)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is __attribute__((packed))
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 where there is no Landlock (ENOSYS: not built
    in; EOPNOTSUPP: built in but disabled at boot)."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(
        ctypes.c_long(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
        ctypes.c_uint32(CREATE_RULESET_VERSION),
    )  # fmt: skip
    return int(version) if version > 0 else 0


def unavailable_reason() -> str:
    """Why this kernel gives no Landlock to use, or "" when it does (ABI >= 2)."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(
        ctypes.c_long(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
        ctypes.c_uint32(CREATE_RULESET_VERSION),
    )  # fmt: skip
    if version < 0:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            return "this kernel has no Landlock (it needs Linux 5.13+ built with it)"
        if err == errno.EOPNOTSUPP:
            return "Landlock is built into this kernel but off (boot with lsm=...,landlock)"
        return f"Landlock probe failed: {os.strerror(err)}"
    if version < MIN_ABI:
        return (
            f"this kernel's Landlock is ABI {version}, which forbids renames across folders; "
            f"the process tier uses ABI {MIN_ABI}+ (Linux 5.19+)"
        )
    return ""


def _check(result: int, step: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"landlock {step}: {os.strerror(err)}")
    return result


def enforce(config: dict[str, Any]) -> int:
    """Restrict this process and its future children as described above; returns the ABI
    used. Raises LandlockError when the kernel lacks Landlock or a step fails."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    abi = abi_version()
    if abi < MIN_ABI:
        why = unavailable_reason() or f"Landlock ABI {abi} is below {MIN_ABI}"
        raise LandlockError(errno.EOPNOTSUPP, why)
    handled = FS_BY_ABI.get(abi, FS_BY_ABI[5])
    attr = _RulesetAttr(handled_access_fs=handled)
    size = ctypes.sizeof(ctypes.c_uint64)  # handled_access_fs only (ABI 1-3's struct)
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = ctypes.sizeof(attr)
    ruleset = _check(
        libc.syscall(
            ctypes.c_long(SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
            ctypes.c_uint32(0),
        ),
        "create_ruleset",
    )  # fmt: skip
    try:
        rules: list[tuple[str, int]] = [("/", READ)]
        rules += [(p, handled) for p in config.get("write", [])]
        for key in ("devices", "proc"):
            rules += [(p, USE_FILES | READ) for p in config.get(key, [])]
        for path, access in rules:
            _add_rule(libc, ruleset, path, access & handled)
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        _check(
            libc.syscall(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(ruleset),
                         ctypes.c_uint32(0)),
            "restrict_self",
        )  # fmt: skip
    finally:
        os.close(ruleset)
    return abi


def _add_rule(libc: Any, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not in this sandbox (no GPU, no /dev/shm): nothing to allow
    try:
        if not os.path.isdir(path):
            access &= FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        _check(
            libc.syscall(
                ctypes.c_long(SYS_ADD_RULE), ctypes.c_int(ruleset),
                ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0),
            ),
            f"add_rule {path}",
        )  # fmt: skip
    finally:
        os.close(fd)


def enforce_from_argv(argv: list[str]) -> None:
    """The process tier's boot hook: apply `config["landlock"]` (argv[1] is the agent's JSON
    config) before the agent reads a request; end the process, saying why, if it fails."""
    import json
    import sys

    config = json.loads(argv[1]) if len(argv) > 1 else {}
    rules = config.get("landlock")
    if not rules:
        return
    try:
        enforce(rules)
    except OSError as e:
        sys.exit(f"sandlot: Landlock could not be applied: {e}")
