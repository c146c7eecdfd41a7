"""The process tier on template images, and Landlock in the jail (real bwrap, no mocks).

- a template with a built image runs on the image's rootfs, read-only, with the image's
  python3 and agent; `template="host"` still runs the host's userland;
- Landlock: where the jail's mounts *and* file ownership would let the code write (bwrap's
  tmpfs root and /dev, owned by the sandbox's user), the write is refused (EACCES), while
  /home/user, /tmp and /dev/shm stay writable — for the agent and every child;
- warm spares are keyed by the resolved root: a host spare is never handed out for an image.

Tests that need the `base` image build it once (tests/image_fixture.py) or skip with why.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandlot import ImageMissing, Limits, Sandbox, SandboxError
from sandlot.images import Image, agent
from sandlot.runtimes.base import SandboxSpec
from sandlot.runtimes.linux import userland
from sandlot.runtimes.process import root, spares
from sandlot.runtimes.process.sandbox import ProcessSandbox, landlock_note
from tests.image_fixture import built_base_image


@pytest.fixture(scope="module")
def base_image() -> Image:
    return built_base_image()


@pytest.fixture
def base_sbx(base_image: Image) -> Iterator[Sandbox]:
    with Sandbox.create(template="base", tier="process") as sandbox:
        yield sandbox


def _box(sbx: Sandbox) -> ProcessSandbox:
    box: Any = sbx._core._box
    assert isinstance(box, ProcessSandbox)
    return box


def _needs_landlock() -> None:
    if landlock_note():
        pytest.skip(landlock_note())


# -- image roots ---------------------------------------------------------------------------


def test_image_template_runs_the_images_userland(base_image: Image, base_sbx: Sandbox) -> None:
    box = _box(base_sbx)
    assert box.root.rootfs == str(base_image.rootfs) and box.root.digest == base_image.digest
    expected = (base_image.rootfs / "etc/debian_version").read_text()
    assert base_sbx.commands.run("cat /etc/debian_version").stdout == expected
    # the image's own agent (with its digest file), not the host's compiled copy
    r = base_sbx.commands.run("cat /opt/sandlot/AGENT_DIGEST")
    assert r.stdout.strip() == agent.agent_digest()
    # the root is the image itself: a file only the image has is there
    marker = base_sbx.commands.run("ls /opt/sandlot").stdout.split()
    assert "AGENT_DIGEST" in marker
    ex = base_sbx.run_code("import sys; sys.executable")
    assert ex.error is None and ex.text == "'/usr/bin/python3'"
    who = base_sbx.commands.run("id -un; echo $HOME; pwd").stdout
    assert who == "user\n/home/user\n/home/user\n"
    assert base_sbx.commands.run("getent hosts localhost").exit_code == 0


def test_image_root_is_read_only(base_image: Image, base_sbx: Sandbox) -> None:
    name = f"sandlot-probe-{uuid.uuid4().hex[:8]}"
    r = base_sbx.commands.run(
        f"for p in /usr/{name} /etc/{name} /{name} /opt/sandlot/{name} /var/{name}; do "
        f"(: > $p) 2>&1; done; echo x >> /etc/passwd; rm -f /usr/bin/python3; "
        f"mkdir /root/{name}"
    )
    assert r.stdout.count("Read-only file system") == 5, r.stdout
    assert r.stderr.count("Read-only file system") + r.stderr.count("Permission denied") == 3
    rootfs = base_image.rootfs
    assert (rootfs / "usr/bin/python3").exists()
    for where in ("usr", "etc", ".", "opt/sandlot", "var", "root"):
        assert not (rootfs / where / name).exists()
    # mountinfo: `/` is the image, read-only; home and tmp are the only writable binds
    mounts = base_sbx.commands.run("awk '{print $5, $6}' /proc/self/mountinfo").stdout
    table = dict(line.split(" ", 1) for line in mounts.splitlines())
    assert table["/"].startswith("ro,")
    writable_binds = {m for m, opts in table.items() if opts.startswith("rw")} - {"/proc", "/dev"}
    assert {m for m in writable_binds if not m.startswith(("/dev/", "/proc/"))} == {
        "/home/user",
        "/tmp",
    }


def test_writes_where_allowed_still_work(base_sbx: Sandbox) -> None:
    r = base_sbx.commands.run(
        "echo a > ~/a && echo b > /tmp/b && mkdir -p ~/d/e && mv ~/a ~/d/e/ && "
        "echo c > /dev/shm/c && cat ~/d/e/a /tmp/b /dev/shm/c && echo 7 > /dev/null"
    )
    assert (r.stdout, r.stderr, r.exit_code) == ("a\nb\nc\n", "", 0)
    assert base_sbx.files.read("/home/user/d/e/a") == "a\n"
    ex = base_sbx.run_code(
        "import multiprocessing as mp\nwith mp.Pool(2) as p: out = p.map(abs, [-1, -2])\nout"
    )
    assert ex.error is None and ex.text == "[1, 2]"


def test_host_files_are_absent_from_an_image_root(base_sbx: Sandbox) -> None:
    if not os.access("/root", os.W_OK):
        pytest.skip("needs a writable /root on the host")
    secret = Path("/root") / f"sandlot-secret-{uuid.uuid4().hex}"
    secret.write_text("host secret\n")
    try:
        r = base_sbx.commands.run(f"cat {secret}; ls -A /root; cat /etc/hostname; ls /work")
        assert "host secret" not in r.stdout and secret.name not in r.stdout
        assert r.stdout.strip().endswith("sandbox")  # the generated hostname, not the host's
        assert r.stderr.count("No such file") + r.stderr.count("Permission denied") >= 2
        # what the host has and the image lacks is not there (the host's venv, its sandlot)
        assert base_sbx.commands.run("test -e /work/venv || test -e /usr/bin/bwrap").exit_code
    finally:
        secret.unlink()


def test_host_template_still_serves_the_host_userland(psbx: Sandbox) -> None:
    box = _box(psbx)
    assert box.root.rootfs is None and box.root.key == ("host", "")
    host_release = Path("/etc/debian_version").read_text()
    assert psbx.commands.run("cat /etc/debian_version").stdout == host_release
    r = psbx.commands.run("ls /opt/sandlot")
    assert r.stdout.split() == [userland.GUEST_PACKAGE]  # the host's compiled agent
    assert psbx.run_code("1 + 1").text == "2"


def test_a_template_without_an_image_says_how_to_build_it() -> None:
    with pytest.raises(ImageMissing, match=r"sandlot image build go-algorithm.*template='host'"):
        Sandbox.create(template="go-algorithm", tier="process")


def test_default_template_without_an_image_is_the_host_userland_with_a_note() -> None:
    from sandlot import images

    if images.find("python-data-analysis") is not None:
        pytest.skip("python-data-analysis is built here: the image is used, no fallback")
    if userland.missing_modules(userland.TEMPLATE_MODULES["python-data-analysis"]):
        with pytest.raises(ImageMissing, match="apt-get install python3-"):
            Sandbox.create(template="python-data-analysis", tier="process")
        return
    with Sandbox.create(template="python-data-analysis", tier="process") as sbx:
        box = _box(sbx)
        assert box.root.rootfs is None
        assert any("served from the host's userland" in n for n in box.notes)


# -- Landlock ------------------------------------------------------------------------------


def _mount_opts(sbx: Sandbox) -> dict[str, str]:
    out = sbx.commands.run("awk '{print $5, $6}' /proc/self/mountinfo").stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_landlock_refuses_writes_the_mounts_would_allow(psbx: Sandbox) -> None:
    """On `host`, `/` and `/dev` are bwrap's tmpfs, mounted rw and owned by the sandbox's
    user: without Landlock each write below succeeds (as it did before Landlock)."""
    _needs_landlock()
    opts = _mount_opts(psbx)
    assert opts["/"].startswith("rw") and opts["/dev"].startswith("rw")
    owners = psbx.commands.run("stat -c '%U %A' / /dev /etc /opt").stdout.split("\n")
    assert all(line.startswith("user d rwx") or line.startswith("user drwx") for line in owners[:4])
    attempts = "/x /etc/x /opt/x /dev/x /dev/pts/x /opt/sandlot/x".split()
    script = "".join(f"(: > {p}) 2>&1; " for p in attempts)
    script += "mkdir /dev/d 2>&1; mkfifo /dev/f 2>&1; ln -s /tmp /dev/l 2>&1; "
    script += "echo s > /dev/shm/s; mv /dev/shm/s /dev/s 2>&1; "
    script += "sh -c ': > /etc/y' 2>&1; python3 -c 'open(\"/opt/z\", \"w\")' 2>&1 | tail -1"
    r = psbx.commands.run(script)
    assert r.stdout.count("Permission denied") >= 10, r.stdout
    assert "Read-only" not in r.stdout.replace("/opt/sandlot/x: Read-only file system", "")
    listing = psbx.commands.run("ls -A / /etc /opt /dev").stdout.split()
    for name in ("x", "d", "f", "l", "s", "y", "z"):
        assert name not in listing
    # the agent itself (run_code) is bound too, and so is a child started from it
    ex = psbx.run_code(
        "import subprocess\n"
        "errs = []\n"
        "for p in ('/x', '/dev/x'):\n"
        "    try:\n"
        "        open(p, 'w')\n"
        "    except OSError as e:\n"
        "        errs.append(e.errno)\n"
        "child = subprocess.run(['touch', '/etc/x'], capture_output=True, text=True).stderr\n"
        "(errs, 'Permission denied' in child)"
    )
    assert ex.error is None and ex.text == "([13, 13], True)"


def test_landlock_holds_on_an_image_root_and_across_restarts(base_sbx: Sandbox) -> None:
    _needs_landlock()
    assert _mount_opts(base_sbx)["/dev"].startswith("rw")
    assert "Permission denied" in base_sbx.commands.run("(: > /dev/x) 2>&1").stdout
    with pytest.raises(SandboxError, match="restarted"):
        base_sbx.run_code("import os; os._exit(3)")  # the agent dies and is started again
    assert "Permission denied" in base_sbx.commands.run("(: > /dev/x) 2>&1").stdout
    assert base_sbx.commands.run("echo ok > ~/ok && cat ~/ok").stdout == "ok\n"


def test_code_cannot_lift_landlock(psbx: Sandbox) -> None:
    """A ruleset of the code's own (handling only MAKE_BLOCK, so it refuses nothing here)
    only adds restrictions: sandlot's still refuses the write."""
    _needs_landlock()
    ex = psbx.run_code(
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "attr = (ctypes.c_uint64 * 1)(1 << 11)\n"
        "fd = libc.syscall(444, ctypes.byref(attr), 8, 0)\n"
        "assert fd >= 0 and libc.prctl(38, 1, 0, 0, 0) == 0\n"
        "assert libc.syscall(446, fd, 0) == 0\n"
        "try:\n"
        "    open('/dev/x', 'w'); out = 'wrote'\n"
        "except OSError as e:\n"
        "    out = e.errno\n"
        "out"
    )
    assert ex.error is None and ex.text == "13"


# -- spares --------------------------------------------------------------------------------


def test_a_host_spare_is_never_handed_out_for_an_image(
    base_image: Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host-userland spare of template `base` (as made before the image was built) must
    not serve an open of `base` once its image is there."""
    monkeypatch.setenv("SANDLOT_PROCESS_SPARES", "1")
    pool = spares.Spares()
    spec = SandboxSpec("base", Limits(memory_bytes=256 << 20), {})
    host_root = root.Root("base")  # the host's userland, under the name `base`
    opened = []
    try:
        first = pool.open_on(spec, host_root)
        opened.append(first)
        assert first.root.rootfs is None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(f.done() for f in pool._ready.values()):
            time.sleep(0.05)  # the host spare is ready and waiting
        second = pool.open(spec)
        opened.append(second)
        assert second.root.rootfs == str(base_image.rootfs)
        assert any(
            f.done() and f.result().root.rootfs is None for f in pool._ready.values()
        )  # the host spare is still there, not handed out
    finally:
        for box in opened:
            box.close()
        pool.close_all()


def test_image_sandbox_limits_apply(base_image: Image) -> None:
    limits = Limits(memory_bytes=200 << 20)
    with Sandbox.create(template="base", tier="process", limits=limits) as sbx:
        r = sbx.commands.run("ulimit -v; ulimit -u")
        assert r.stdout.split() == [str(200 << 10), "256"]


@pytest.mark.parametrize("abi", [2, 3, 4, 5, 6, 7])
def test_landlock_ruleset_for_each_abi(abi: int, tmp_path: Path) -> None:
    """The ruleset built for each ABI (rights it lacks masked out) is accepted by this
    kernel and confines a real process: writes only where allowed. A fresh interpreter on
    the host is restricted (never pytest itself); only the ABI number it sees is lowered."""
    _needs_landlock()
    import subprocess
    import sys

    import sandlot.guest.agent.landlock as landlock

    if abi > landlock.abi_version():
        pytest.skip(f"this kernel's Landlock ABI is {landlock.abi_version()}")
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    script = (
        "import sys, sandlot.guest.agent.landlock as l\n"
        f"l.abi_version = lambda: {abi}\n"
        f"assert l.enforce({{'write': [{str(allowed)!r}]}}) == {abi}\n"
        f"open({str(allowed / 'ok')!r}, 'w').write('ok')\n"
        "try:\n"
        f"    open({str(other / 'no')!r}, 'w')\n"
        "except PermissionError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "refused\n", "")
    assert (allowed / "ok").read_text() == "ok" and not (other / "no").exists()


def test_landlock_abi_1_is_refused_not_half_applied() -> None:
    import subprocess
    import sys

    script = (
        "import sandlot.guest.agent.landlock as l\n"
        "l.abi_version = lambda: 1\n"
        "try:\n"
        "    l.enforce({'write': ['/tmp']})\n"
        "except l.LandlockError as e:\n"
        "    print('refused', e.errno)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.startswith("refused 95"), done.stderr  # EOPNOTSUPP
