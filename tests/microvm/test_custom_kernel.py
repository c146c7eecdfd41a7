"""sandlot's own guest kernel (`SANDLOT_MICROVM_KERNEL=custom`), booted for real under QEMU.

Skipped, with the reason, where it has not been built: building it compiles Linux (many
minutes), so no test does it; `sandlot image build --kernel --custom-kernel` does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandlot import Sandbox
from sandlot.runtimes.microvm import custom_kernel, kernel
from sandlot.runtimes.microvm.sandbox import VMLost

from .conftest import TEMPLATE


@pytest.fixture(scope="module")
def custom() -> Iterator[None]:
    if custom_kernel.built() is None:
        pytest.skip(
            f"the custom kernel for this fragment is not built: run `{custom_kernel.BUILD_COMMAND}`"
        )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SANDLOT_MICROVM_KERNEL", "custom")
        yield


@pytest.fixture(scope="module")
def csbx(custom: None) -> Iterator[Sandbox]:
    with Sandbox.create(tier="microvm", template=TEMPLATE) as sandbox:
        yield sandbox


def test_the_custom_kernel_boots_with_no_modules_in_its_initramfs(csbx: Sandbox) -> None:
    k = kernel.ensure_kernel()
    assert k.vmlinuz.parent == custom_kernel.built()
    assert (k.vmlinuz.parent / "modules.order").read_text() == ""
    r = csbx.commands.run("uname -r; test -e /proc/modules && echo modules || echo none")
    assert r.stdout == f"{k.version}\nnone\n" and k.version.endswith("-sandlot")


def test_python_bash_and_procfs_work_on_it(csbx: Sandbox) -> None:
    assert csbx.run_code("import sys; sys.version_info[:2]").text == "(3, 11)"
    code = (
        "import multiprocessing as mp, socket, time\n"
        "with mp.Pool(2) as p: squares = p.map(abs, [-1, -2])\n"  # pipes, fork, POSIX sems
        "a, b = socket.socketpair(); a.sendall(b'hi'); got = b.recv(2); time.sleep(0.01)\n"
        "socket.create_server(('127.0.0.1', 0)).close()\n"  # binds, as on Debian's kernel
        "(squares, got)"
    )
    assert csbx.run_code(code).text == "([1, 2], b'hi')"
    # what ps reads (the images have no procps): every process's stat, status and cmdline
    r = csbx.commands.run(
        "for p in /proc/[0-9]*; do read -r pid comm rest < $p/stat; "
        'grep -q "^Name:" $p/status && tr "\\0" " " < $p/cmdline > /dev/null && echo "$comm"; '
        "done | sort -u; ls /dev/shm >/dev/null && echo shm"
    )
    assert "(bash)" in r.stdout.split() and "(python3)" in r.stdout.split(), r.stderr
    assert r.stdout.endswith("shm\n")


def test_gcc_compiles_and_runs_on_it(custom: None) -> None:
    from sandlot import images

    if images.find("cpp-algorithm") is None:
        pytest.skip("no cpp-algorithm image (gcc): run `sandlot image build cpp-algorithm`")
    with Sandbox.create(tier="microvm", template="cpp-algorithm") as sbx:
        r = sbx.commands.run(
            "cd /tmp && printf 'int main(void){return 7;}' > t.c && gcc -O2 t.c -o t; ./t; echo $?"
        )
        assert r.stdout == "7\n", r.stderr
        assert sbx.commands.run("uname -r").stdout.endswith("-sandlot\n")


def test_a_guest_panic_on_it_is_a_typed_error_then_replaced(csbx: Sandbox) -> None:
    began = time.monotonic()
    with pytest.raises(VMLost, match="replaced"):
        csbx.commands.run("echo c > /proc/sysrq-trigger; sleep 30")
    assert time.monotonic() - began < 20
    assert csbx.commands.run("uname -r").stdout.endswith("-sandlot\n")
