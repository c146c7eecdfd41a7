"""The microvm tier's own-kernel config fragment and its cache key: no build, no QEMU, so
this runs everywhere (the boot of the built kernel is tests/microvm/test_custom_kernel.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandlot.errors import ImageError, ImageMissing
from sandlot.runtimes.microvm import custom_kernel, kernel

# What the guest cannot boot or work without (see the fragment's comments for why).
REQUIRED = (
    "CONFIG_64BIT",
    "CONFIG_ACPI",
    "CONFIG_PCI",  # ACPICA of 6.1 cannot load the tables without it (see the fragment)
    "CONFIG_SERIAL_8250_CONSOLE",
    "CONFIG_VIRTIO_MMIO",
    "CONFIG_VIRTIO_BLK",
    "CONFIG_VIRTIO_CONSOLE",
    "CONFIG_HW_RANDOM_VIRTIO",
    "CONFIG_EXT4_FS",
    "CONFIG_TMPFS",
    "CONFIG_DEVTMPFS",
    "CONFIG_PROC_FS",
    "CONFIG_SYSFS",
    "CONFIG_UNIX98_PTYS",
    "CONFIG_BLK_DEV_INITRD",
    "CONFIG_BINFMT_ELF",
    "CONFIG_BINFMT_SCRIPT",
    "CONFIG_FUTEX",
    "CONFIG_EPOLL",
    "CONFIG_EVENTFD",
    "CONFIG_SIGNALFD",
    "CONFIG_TIMERFD",
    "CONFIG_POSIX_TIMERS",
    "CONFIG_MULTIUSER",
    "CONFIG_FILE_LOCKING",
    "CONFIG_SHMEM",
    "CONFIG_MAGIC_SYSRQ",
    "CONFIG_HIGH_RES_TIMERS",
    "CONFIG_NET",
    "CONFIG_UNIX",
    "CONFIG_INET",
)


def test_the_fragment_parses_and_builds_in_what_the_guest_needs() -> None:
    options = custom_kernel.parse_fragment(custom_kernel.FRAGMENT.read_text())
    assert {name: options.get(name) for name in REQUIRED} == dict.fromkeys(REQUIRED, "y")
    assert "CONFIG_MODULES" not in options  # allnoconfig leaves modules off: all built in
    assert all(value != "m" for value in options.values())


def test_the_fragment_ships_with_the_package() -> None:
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert custom_kernel.FRAGMENT.name in pyproject  # package-data, or a wheel lacks it


def test_the_cache_key_follows_the_options_and_the_source_version() -> None:
    text = custom_kernel.FRAGMENT.read_text()
    digest = custom_kernel.fragment_digest(text)
    assert digest == custom_kernel.fragment_digest()
    assert custom_kernel.fragment_digest("# a comment\n\n" + text) == digest  # comments: same
    assert custom_kernel.fragment_digest(text + "CONFIG_SWAP=y\n") != digest
    changed = text.replace("CONFIG_IPV6=y", "CONFIG_IPV6=n")
    assert changed != text and custom_kernel.fragment_digest(changed) != digest
    one = custom_kernel.cache_name("6.1.192-2", digest)
    assert one != custom_kernel.cache_name("6.1.193-1", digest)
    assert one != custom_kernel.cache_name("6.1.192-2", custom_kernel.fragment_digest(changed))


def test_a_malformed_fragment_is_refused() -> None:
    with pytest.raises(ImageError, match="not a CONFIG_X=value"):
        custom_kernel.parse_fragment("CONFIG_NET=y\nNET=y\n")
    with pytest.raises(ImageError, match="set twice"):
        custom_kernel.parse_fragment("CONFIG_NET=y\nCONFIG_NET=n\n")


def test_options_that_kconfig_dropped_are_named() -> None:
    asked = {"CONFIG_NET": "y", "CONFIG_VIRTIO_BLK": "y", "CONFIG_SWAP": "n", "CONFIG_X": '"a"'}
    final = 'CONFIG_NET=y\n# CONFIG_VIRTIO_BLK is not set\nCONFIG_X="a"\n'
    assert custom_kernel.missing_options(asked, final) == ["CONFIG_VIRTIO_BLK"]


def test_the_kernel_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SANDLOT_MICROVM_KERNEL", raising=False)
    assert kernel.choice() == "debian"
    monkeypatch.setenv("SANDLOT_MICROVM_KERNEL", "Custom")
    assert kernel.choice() == "custom"
    with kernel.selected("debian"):
        assert kernel.choice() == "debian"
    assert kernel.choice() == "custom"
    monkeypatch.setenv("SANDLOT_MICROVM_KERNEL", "vmlinux")
    with pytest.raises(ImageError, match="expected one of"):
        kernel.choice()
    # asked for and never built (an empty store): the error names the command, no build
    monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))
    with pytest.raises(ImageMissing, match="--custom-kernel"):
        custom_kernel.require_built()


def test_the_cli_flag_goes_with_kernel() -> None:
    cmd = [sys.executable, "-m", "sandlot.cli.main", "image", "build", "base", "--custom-kernel"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--custom-kernel goes with --kernel" in done.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "image", "build", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "--custom-kernel" in shown.stdout
