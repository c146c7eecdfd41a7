"""The store: atomic publication, sweeping of dead builds, names, removal, agent refresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandlot import images
from sandlot.errors import ImageMissing, InvalidArgument, NotFound
from sandlot.images import agent, store


def _fake_build(name: str = "base", files: dict[str, str] | None = None) -> images.Image:
    """Publish an image for the template's current recipe without debootstrap (the store's
    behaviour does not depend on what the rootfs holds)."""
    r = images.recipe(name)
    with store.lock(r.digest), store.Staging(r.digest) as s:
        s.rootfs.mkdir()
        for path, content in (files or {"etc/os-release": "fake\n"}).items():
            (s.rootfs / path).parent.mkdir(parents=True, exist_ok=True)
            (s.rootfs / path).write_text(content)
        return s.commit(name=r.name, source="build", recipe=r)


@pytest.fixture(autouse=True)
def _empty_store(store_home: Path) -> None:
    for image in images.list_images():
        images.remove(image.digest)


def _work_dirs() -> list[str]:
    return [p.name for p in (images.store_root() / "images").iterdir() if p.name.startswith(".t")]


def test_store_root_follows_env(store_home: Path) -> None:
    assert images.store_root() == store_home


def test_missing_image_is_a_typed_error() -> None:
    with pytest.raises(ImageMissing, match="sandlot image build base"):
        images.ensure("base")
    with pytest.raises(NotFound, match="no template or imported image named 'nope'"):
        images.ensure("nope")
    assert images.find("base") is None


def test_error_mid_build_leaves_nothing() -> None:
    r = images.recipe("base")
    with pytest.raises(RuntimeError), store.lock(r.digest), store.Staging(r.digest) as s:
        (s.rootfs / "usr/bin").mkdir(parents=True)
        (s.rootfs / "usr/bin/python3").write_text("half")
        raise RuntimeError("interrupted")
    assert _work_dirs() == []
    assert images.find("base") is None and images.list_images() == []


def test_killed_build_is_never_used_and_swept() -> None:
    r = images.recipe("base")
    script = textwrap.dedent(
        f"""
        import os, signal
        from sandlot.images import store
        s = store.Staging({r.digest!r})
        (s.rootfs / "usr/bin").mkdir(parents=True)
        (s.rootfs / "usr/bin/python3").write_text("half")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), check=False)
    assert done.returncode == -9
    assert len(_work_dirs()) == 1  # the dead build's folder, not an image
    assert images.find("base") is None
    assert images.list_images() == []  # listing sweeps it
    assert _work_dirs() == []


def test_incomplete_image_folder_is_ignored() -> None:
    r = images.recipe("base")
    folder = images.store_root() / "images" / r.digest
    (folder / "rootfs").mkdir(parents=True)
    try:
        assert images.find("base") is None
        (folder / "image.json").write_text('{"name": "base", "dig')  # torn write
        assert images.find("base") is None
    finally:
        store.remove_tree(folder)


def test_publish_find_list_remove() -> None:
    image = _fake_build()
    assert image.source == "build" and image.recipe == images.recipe("base")
    assert image.digest == images.recipe("base").digest
    assert image.rootfs == images.store_root() / "images" / image.digest / "rootfs"
    meta = json.loads((image.path / "image.json").read_text())
    assert {"name", "digest", "recipe", "size", "created", "source"} <= set(meta)
    assert images.find("base") == image
    assert [i.name for i in images.list_images()] == ["base"]
    images.remove(image.short_digest)
    assert images.find("base") is None
    with pytest.raises(NotFound):
        images.remove("base")


def test_remove_by_name_and_ambiguous_prefix() -> None:
    a, b = _fake_build("base"), _fake_build("cpp-algorithm")
    common = os.path.commonprefix([a.digest, b.digest])
    if len(common) >= 4:  # pragma: no cover - 1 in 65536
        with pytest.raises(InvalidArgument):
            images.remove(common)
    images.remove("cpp-algorithm")
    assert [i.name for i in images.list_images()] == ["base"]


def test_build_reuses_same_recipe_without_debootstrap() -> None:
    image = _fake_build()
    # Reuse must not need root or debootstrap: it is a lookup by the recipe's digest.
    again = images.build("base")
    assert again.digest == image.digest and again.created == image.created


def test_ensure_installs_and_refreshes_the_agent() -> None:
    image = _fake_build()
    got = images.ensure("base")
    guest = got.rootfs / "opt/sandlot/sandlot_guest"
    assert (guest / "agent/pipe_main.py").is_file() and (guest / "__init__.py").is_file()
    digest_file = got.rootfs / "opt/sandlot/AGENT_DIGEST"
    assert digest_file.read_text().strip() == agent.agent_digest()
    # An agent edited since the image was built is refreshed in place: same image, no rebuild.
    digest_file.write_text("stale\n")
    (guest / "agent/pipe_main.py").write_text("old agent")
    again = images.ensure("base")
    assert again.digest == image.digest
    assert digest_file.read_text().strip() == agent.agent_digest()
    assert (guest / "agent/pipe_main.py").read_text() != "old agent"
    assert not list((got.rootfs / "opt/sandlot").glob(".sandlot_guest.*"))


def test_auto_build_env_means_build(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_build()
    monkeypatch.setenv("SANDLOT_AUTO_BUILD", "1")
    assert images.ensure("base").name == "base"  # found; a missing one would be built


def test_not_root_or_no_debootstrap_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandlot.errors import ImageError
    from sandlot.images import builder

    monkeypatch.setenv("PATH", "/nonexistent")
    if os.path.exists("/usr/sbin/debootstrap"):
        monkeypatch.setattr(os.path, "exists", lambda p: False)
    with pytest.raises(ImageError, match="apt-get install debootstrap"):
        builder.check_host()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_sweep_never_deletes_through_a_mount(tmp_path: Path) -> None:
    """A build killed mid-debootstrap leaves /proc, /sys (even host devices) mounted in its
    work folder; sweeping it must detach them, not delete through them."""
    outside = tmp_path / "host-files"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    work = images.store_root() / "images" / f".tmp-{int(dead.stdout)}-deadbeef"
    (work / "rootfs/mnt").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outside), str(work / "rootfs/mnt")], check=True)
    try:
        assert store.mounts_under(work)
        images.list_images()  # sweeps the dead build's folder
        assert not work.exists()
        assert (outside / "precious").read_text() == "keep me"
    finally:
        if store.mounts_under(work):
            subprocess.run(["umount", "-l", str(work / "rootfs/mnt")], check=False)
