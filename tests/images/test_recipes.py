"""Recipes: the shipped templates parse, errors name the field, digests track build inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandlot import images
from sandlot.errors import InvalidArgument, NotFound
from sandlot.images.recipe import parse

BASE = """
name = "t"
[packages]
apt = ["bash"]
"""


def test_shipped_templates() -> None:
    names = {r.name: r for r in images.templates()}
    assert {"base", "python-data-analysis", "cpp-algorithm", "go-algorithm"} <= set(names)
    assert "python3" in names["base"].apt_packages
    assert {"g++", "make"} <= set(names["cpp-algorithm"].packages.apt)
    assert "golang-go" in names["go-algorithm"].packages.apt
    pda = names["python-data-analysis"]
    assert {"python3-numpy", "python3-pandas", "python3-sklearn"} <= set(pda.packages.apt)
    assert "wasm" in pda.tiers
    assert len({r.digest for r in names.values()}) == len(names)
    base = names["base"]
    assert base.suite == "bookworm" and base.network.policy == "deny"
    assert base.defaults.memory_mb == 512 and base.defaults.cpu == 1.0


def test_unknown_template_lists_known() -> None:
    with pytest.raises(NotFound, match="known templates: .*base"):
        images.recipe("no-such-template")
    with pytest.raises(NotFound):
        images.recipe("../etc/passwd")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('colour = "red"', "colour"),
        ('suite = "Bookworm!"', "suite"),
        ('name = "Bad Name"', "name"),
        ('tiers = ["process", "docker"]', "tiers.1"),
        ("[defaults]\nmemory_mb = -1", "defaults.memory_mb"),
        ('[defaults]\ncpu = "two"', "defaults.cpu"),
        ('[network]\nallow = ["index.example.org"]', "network"),
        ('[network]\npolicy = "maybe"', "network.policy"),
        ('[files]\n"etc/motd" = "hi"', "files"),
        ('[files]\n"/etc/../../x" = "hi"', "files"),
        ('[env]\n"BAD-NAME" = "1"', "env"),
        ("[env]\nN = 1", "env.N"),
    ],
)
def test_errors_name_the_field(extra: str, field: str) -> None:
    text = BASE + "\n" + extra if extra.startswith("[") else extra + "\n" + BASE
    if extra.startswith("name ="):
        text = extra + "\n[packages]\napt = []\n"
    with pytest.raises(InvalidArgument) as e:
        parse(text, source="t.toml")
    assert f"field {field!r}" in str(e.value) and "t.toml" in str(e.value)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ('apt = ["-oAPT::Get=1"]', "packages.apt"),
        ('apt = "bash"', "packages.apt"),
        ('pip = ["--index-url=http://evil"]', "packages.pip"),
        ('pip = ["x; rm -rf /"]', "packages.pip"),
    ],
)
def test_package_names_checked(section: str, field: str) -> None:
    with pytest.raises(InvalidArgument, match=f"field '{field}'"):
        parse(f'name = "t"\n[packages]\n{section}\n')


def test_not_toml() -> None:
    with pytest.raises(InvalidArgument, match="not valid TOML"):
        parse("name = ")


def test_digest_follows_build_inputs_only() -> None:
    a = parse('name = "t"\n[packages]\napt = ["bash", "make"]\n')
    assert a.digest == parse('name = "t"\n[packages]\napt = ["make", "bash", "python3"]\n').digest
    # Runtime settings don't shape the rootfs: no rebuild for them.
    b = parse(
        'name = "t"\ndescription = "x"\n[defaults]\ncpu = 2\n[packages]\napt = ["bash", "make"]\n'
    )
    assert a.digest == b.digest
    assert a.digest != parse('name = "t"\n[packages]\napt = ["bash", "g++"]\n').digest
    assert (
        a.digest != parse('name = "t"\n[packages]\napt = ["bash", "make"]\npip = ["six"]\n').digest
    )
    c = parse('name = "t"\n[packages]\napt = ["bash", "make"]\n[files]\n"/etc/x" = "1"\n')
    assert a.digest != c.digest
    assert (
        a.digest
        != parse('name = "t"\nsuite = "trixie"\n[packages]\napt = ["bash", "make"]\n').digest
    )
    assert "python3-pip" in parse('name = "t"\n[packages]\npip = ["six"]\n').apt_packages


def test_user_templates(store_home: Path) -> None:
    d = store_home / "templates"
    d.mkdir()
    (d / "mine.toml").write_text('name = "mine"\ndescription = "my own"\n')
    assert images.recipe("mine").description == "my own"
    assert "mine" in {r.name for r in images.templates()}
    (d / "other.toml").write_text('name = "mine"\n')
    with pytest.raises(InvalidArgument, match="field 'name'.*differs from the file name"):
        images.recipe("other")
    (d / "other.toml").unlink()


def test_the_default_mirror_is_the_hosts_own(tmp_path: Path) -> None:
    from sandlot.images.recipe import host_debian_mirror

    assert host_debian_mirror(tmp_path) == ""  # no apt here: debootstrap's own default
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://x.example.org/y main\n")
    assert host_debian_mirror(tmp_path) == ""  # options in brackets are not a URL
    (tmp_path / "sources.list").write_text("deb http://mirror.example.org/debian/ bookworm main\n")
    assert host_debian_mirror(tmp_path) == "http://mirror.example.org/debian"
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://sec.example.org/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb-src\nURIs: http://src.example.org/debian\n\n"
        "Types: deb\nURIs: http://deb.example.org/debian\nSuites: bookworm\n"
    )
    assert host_debian_mirror(tmp_path) == "http://deb.example.org/debian"
