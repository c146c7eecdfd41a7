"""Which pages of a guest's linear memory were written since we last looked (Linux only).

A checkpoint after every call used to copy the whole linear memory (40 MiB bare, ~5-10 ms).
A call writes far less (a `true` writes ~225 pages, 0.9 MiB), so with the kernel's help we copy
only those: the memory range is registered with a userfaultfd in asynchronous write-protect
mode (Linux 6.7+: UFFD_FEATURE_WP_ASYNC); the first write to a protected page lifts the
protection in the kernel, without a round trip to us; `PAGEMAP_SCAN` then lists the pages
whose protection was lifted (written), and we protect them again (the guest is stopped
between calls, so nothing writes in between).

Unlike soft-dirty bits (`/proc/self/clear_refs`, process-wide and often compiled out, as on
this project's CI kernel) this is per range: each sandbox has its own tracker, and neither
the host's other memory nor other sandboxes are touched.

Hot pages: a call in a live sandbox writes nearly the same pages every time (a `true`
writes ~230, ~220 of them on every call: the interpreter's frames, the shell's state,
allocator heads). Each of those first writes is a fault, ~3.5 us here, so ~0.8 ms per call,
where copying the page costs ~0.3 us. So a page written by two captures in a row is left
unprotected ("hot"): the scan reports it on every capture (an unprotected page counts as
written) and it is always copied, with no fault. Only the other written pages are protected
again, one ioctl per run. Every REFRESH captures, or past MAX_HOT pages, everything is
protected again and the hot set is learnt anew, so pages a past call wrote once in a
while do not stay in every copy. SANDLOT_WASM_HOT_PAGES=0 turns this off, to compare.

The scan is made with PM_SCAN_CHECK_WPASYNC: if any part of the range is no longer registered
(wasmtime remapped it), the kernel refuses the scan and the caller falls back to a full copy.
Anything unexpected (macOS, an older kernel, a seccomp filter, no permission) makes `Tracker.open`
return None and checkpoints copy everything, as before. SANDLOT_WASM_FULL_CHECKPOINTS=1 forces
that, to compare or rule the tracker out.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
import sys
from collections.abc import Iterator
from functools import cache

# <linux/userfaultfd.h>, <linux/fs.h> (x86-64 and arm64 share these numbers)
_SYS_USERFAULTFD = {"x86_64": 323, "aarch64": 282}
_UFFD_USER_MODE_ONLY = 1
_UFFD_API = 0xAA
_UFFD_FEATURE_WP_UNPOPULATED = 1 << 13
_UFFD_FEATURE_WP_ASYNC = 1 << 15
_UFFDIO_API = 0xC018AA3F  # _IOWR(0xAA, 0x3F, struct uffdio_api)
_UFFDIO_REGISTER = 0xC020AA00  # _IOWR(0xAA, 0x00, struct uffdio_register)
_UFFDIO_WRITEPROTECT = 0xC018AA06  # _IOWR(0xAA, 0x06, struct uffdio_writeprotect)
_UFFDIO_REGISTER_MODE_WP = 1 << 1
_UFFDIO_WRITEPROTECT_MODE_WP = 1 << 0
_PAGEMAP_SCAN = 0xC0606610  # _IOWR('f', 16, struct pm_scan_arg)
_PM_SCAN_CHECK_WPASYNC = 1 << 1
_PAGE_IS_WRITTEN = 1 << 1
_SCAN_ARG_SIZE = 96
_REGIONS = 1024  # page_region entries fetched per scan call
REFRESH = 64  # captures between two re-learnings of the hot set
MAX_HOT = 4096  # pages (16 MiB) at most left unprotected

OS_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _ScanArg(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "size",
            "flags",
            "start",
            "end",
            "walk_end",
            "vec",
            "vec_len",
            "max_pages",
            "category_inverted",
            "category_mask",
            "category_anyof_mask",
            "return_mask",
        )
    ]


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _syscall_number() -> int | None:
    return _SYS_USERFAULTFD.get(os.uname().machine) if sys.platform == "linux" else None


def enabled() -> bool:
    return os.environ.get("SANDLOT_WASM_FULL_CHECKPOINTS", "") in ("", "0")


def supported() -> bool:
    """Whether this process can track writes (a tracker opens over a scratch mapping)."""
    import mmap

    with mmap.mmap(-1, OS_PAGE) as scratch:
        view = (ctypes.c_char * OS_PAGE).from_buffer(scratch)
        try:
            tracker = Tracker.open(ctypes.addressof(view), OS_PAGE)
            if tracker is None:
                return False
            tracker.close()
            return True
        finally:
            del view


def hot_pages_enabled() -> bool:
    """SANDLOT_WASM_HOT_PAGES=0: protect every written page again (to compare)."""
    return os.environ.get("SANDLOT_WASM_HOT_PAGES", "") != "0"


class Tracker:
    """Write tracking over one contiguous range of this process's memory (one guest's)."""

    def __init__(self, uffd: int, pagemap: int) -> None:
        self._uffd = uffd
        self._pagemap = pagemap
        self._regions = (ctypes.c_uint64 * (3 * _REGIONS))()
        self._arg = _ScanArg()
        self.start = 0
        self.length = 0
        self.hot: set[int] = set()  # page numbers (from start) left unprotected
        self.max_hot = MAX_HOT if hot_pages_enabled() else 0
        self._recent: set[int] = set()  # the other pages the last capture found written
        self._last_runs: list[tuple[int, int]] = []
        self._captures = 0

    @classmethod
    def open(cls, start: int, length: int) -> Tracker | None:
        """Track [start, start + length), every page protected from now on; None where the
        kernel cannot (the caller copies everything instead)."""
        libc, number = _libc(), _syscall_number()
        if libc is None or number is None or not enabled() or start % OS_PAGE:
            return None
        flags = os.O_CLOEXEC | os.O_NONBLOCK | _UFFD_USER_MODE_ONLY
        uffd = libc.syscall(number, flags)
        if uffd < 0:
            return None
        pagemap = -1
        try:
            want = _UFFD_FEATURE_WP_ASYNC | _UFFD_FEATURE_WP_UNPOPULATED
            api = bytearray(struct.pack("QQQ", _UFFD_API, want, 0))
            fcntl.ioctl(uffd, _UFFDIO_API, api)
            if struct.unpack("QQQ", api)[1] & want != want:
                raise OSError("userfaultfd lacks asynchronous write protection")
            pagemap = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
            tracker = cls(uffd, pagemap)
            tracker.start = start
            tracker.extend(start + length)
            return tracker
        except OSError:
            os.close(uffd)
            if pagemap >= 0:
                os.close(pagemap)
            return None

    def extend(self, end: int) -> None:
        """Track up to `end` too (the memory grew): the new pages start protected."""
        begin = self.start + self.length
        length = (end - begin + OS_PAGE - 1) // OS_PAGE * OS_PAGE
        if length <= 0:
            return
        fcntl.ioctl(
            self._uffd,
            _UFFDIO_REGISTER,
            bytearray(struct.pack("QQQQ", begin, length, _UFFDIO_REGISTER_MODE_WP, 0)),
        )
        self._protect(begin, length)
        self.length += length

    def _protect(self, address: int, length: int) -> None:
        fcntl.ioctl(
            self._uffd,
            _UFFDIO_WRITEPROTECT,
            bytearray(struct.pack("QQQ", address, length, _UFFDIO_WRITEPROTECT_MODE_WP)),
        )

    def written(self) -> list[tuple[int, int]]:
        """(offset, length) of each run of pages written since the last call, hot pages
        included (see the module's docstring); the others are protected again. Raises
        OSError when the kernel cannot tell (then nothing is known)."""
        runs = self._scan()
        self._captures += 1
        if self._captures % REFRESH == 0 or len(self.hot) >= self.max_hot:
            self._protect(self.start, self.length)
            self.hot.clear()
            self._recent.clear()
            self._last_runs = []
            return runs
        if runs == self._last_runs and not self._recent:
            return runs  # the same pages as last time, all of them hot: nothing to protect
        self._last_runs = runs
        cold = {
            page
            for offset, length in runs
            for page in range(offset // OS_PAGE, (offset + length) // OS_PAGE)
        }
        cold -= self.hot
        again = cold & self._recent  # written twice in a row: left unprotected from now on
        self.hot |= again
        self._recent = cold - again
        for page, count in _page_runs(sorted(self._recent)):
            self._protect(self.start + page * OS_PAGE, count * OS_PAGE)
        return runs

    def _scan(self) -> list[tuple[int, int]]:
        """The runs of unprotected pages, as (offset, length); nothing is protected."""
        libc = _libc()
        assert libc is not None
        arg, regions = self._arg, self._regions
        runs: list[tuple[int, int]] = []
        at, end = self.start, self.start + self.length
        while at < end:
            arg.size = _SCAN_ARG_SIZE
            arg.flags = _PM_SCAN_CHECK_WPASYNC
            arg.start, arg.end, arg.walk_end = at, end, 0
            arg.vec, arg.vec_len, arg.max_pages = ctypes.addressof(regions), _REGIONS, 0
            arg.category_inverted = arg.category_anyof_mask = 0
            arg.category_mask = arg.return_mask = _PAGE_IS_WRITTEN
            found = libc.ioctl(self._pagemap, ctypes.c_ulong(_PAGEMAP_SCAN), ctypes.byref(arg))
            if found < 0:
                e = ctypes.get_errno()
                raise OSError(e, f"PAGEMAP_SCAN: {os.strerror(e)}")
            got = regions[: 3 * found]  # one list from the array, not 2 lookups a run
            start = self.start
            runs += [(got[i] - start, got[i + 1] - got[i]) for i in range(0, 3 * found, 3)]
            if arg.walk_end <= at:
                raise OSError("PAGEMAP_SCAN made no progress")
            at = arg.walk_end
        return runs

    def close(self) -> None:
        self.hot.clear()
        for fd in (self._uffd, self._pagemap):
            try:
                os.close(fd)
            except OSError:
                pass
        self._uffd = self._pagemap = -1


def _page_runs(pages: list[int]) -> Iterator[tuple[int, int]]:
    """(first page, count) of each run of consecutive numbers in sorted `pages`."""
    i = 0
    while i < len(pages):
        j = i + 1
        while j < len(pages) and pages[j] == pages[j - 1] + 1:
            j += 1
        yield pages[i], j - i
        i = j
