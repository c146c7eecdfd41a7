"""Template recipes: small declarative TOML files that say what goes into an image.

A recipe is trusted configuration, but it still ends up on a `debootstrap`/`pip` command
line and writes files into a rootfs, so every field is checked narrowly here (package
names, absolute file paths without `..`, env names) and errors name the offending field.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import InvalidArgument, NotFound
from ..tiers import tier_names

# Bumped when the builder's output for the same recipe changes, so old images are not reused.
BUILD_FORMAT = 1


_NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_DEB_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")  # Debian policy, section 5.6.1
# A pip requirement, never an option: no leading '-', no shell or URL characters.
_PIP_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~ ]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9.*-]*(:[0-9]{1,5})?$")


def _known_tier(name: str) -> str:
    if name not in tier_names():
        raise ValueError(f"{name!r} is not a tier; the tiers are: {', '.join(tier_names())}")
    return name


TierName = Annotated[str, AfterValidator(_known_tier)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Packages(_Strict):
    """What to install: Debian packages through debootstrap, then pip packages in a chroot."""

    apt: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()

    @field_validator("apt")
    @classmethod
    def _apt_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if not _DEB_PACKAGE.match(p):
                raise ValueError(f"{p!r} is not a Debian package name")
        return v

    @field_validator("pip")
    @classmethod
    def _pip_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if not _PIP_REQUIREMENT.match(p):
                raise ValueError(f"{p!r} is not a plain pip requirement (name[extras] and version)")
        return v


class Defaults(_Strict):
    """The resources a sandbox of this template gets unless the caller says otherwise."""

    cpu: Annotated[float, Field(gt=0, le=256)] = 1.0
    memory_mb: Annotated[int, Field(ge=16, le=1 << 20)] = 512
    timeout: Annotated[float, Field(gt=0, le=86400)] = 300.0

    @field_validator("cpu", "timeout", mode="before")
    @classmethod
    def _int_ok(cls, v: Any) -> Any:
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


class Network(_Strict):
    """Outbound network: none at all (`deny`), or only the listed hosts (`allowlist`).

    Applied when a sandbox opens (sandlot/sdk/template_network.py): an `allowlist` becomes
    the sandbox's `allow_out` unless the caller passes its own `network=`."""

    policy: Literal["deny", "allowlist"] = "deny"
    allow: tuple[str, ...] = ()

    @field_validator("allow")
    @classmethod
    def _hosts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for h in v:
            if not _HOST.match(h):
                raise ValueError(f"{h!r} is not a host name or host:port")
        return v

    @model_validator(mode="after")
    def _allow_needs_allowlist(self) -> Network:
        if self.policy == "deny" and self.allow:
            raise ValueError("'allow' lists hosts but policy is 'deny'; set policy = 'allowlist'")
        return self


class Recipe(_Strict):
    """One template: what its image holds and how its sandboxes run by default."""

    name: Annotated[str, Field(pattern=_NAME)]
    description: str = ""
    suite: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")] = "bookworm"
    # None: the Debian mirror this host's apt uses (else debootstrap's own default)
    mirror: Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.:/_~%-]+$")] | None = None
    packages: Packages = Packages()
    files: dict[str, str] = {}
    env: dict[str, str] = {}
    defaults: Defaults = Defaults()
    network: Network = Network()
    # Tier names come from sandlot/tiers.py, so a new tier needs no edit here.
    tiers: tuple[TierName, ...] = ("process", "gvisor", "microvm")

    @field_validator("files")
    @classmethod
    def _file_paths(cls, v: dict[str, str]) -> dict[str, str]:
        for path in v:
            parts = path.split("/")
            if not path.startswith("/") or ".." in parts or "\0" in path or path == "/":
                raise ValueError(f"{path!r} must be an absolute file path without '..'")
        return v

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        for k, val in v.items():
            if not _ENV_NAME.match(k):
                raise ValueError(f"{k!r} is not an environment variable name")
            if "\0" in val:
                raise ValueError(f"{k!r} holds a NUL byte")
        return v

    @property
    def apt_packages(self) -> tuple[str, ...]:
        """What debootstrap includes: the recipe's packages, plus python3 (the guest agent
        needs it) and python3-pip when there are pip steps; sorted, so order is not identity."""
        pkgs = set(self.packages.apt) | {"python3"}
        if self.packages.pip:
            pkgs.add("python3-pip")
        return tuple(sorted(pkgs))

    def resolved_mirror(self) -> str:
        """The mirror debootstrap is given: the recipe's, else the host's apt mirror, else
        "" (debootstrap then uses its own default)."""
        return self.mirror or host_debian_mirror()

    def build_inputs(self) -> dict[str, Any]:
        """The part of the recipe that shapes the rootfs. Description, defaults, env, network
        and tiers are not part of it (they are read when a sandbox starts), so editing them
        never forces a rebuild."""
        return {
            "format": BUILD_FORMAT,
            "name": self.name,
            "suite": self.suite,
            "mirror": self.resolved_mirror(),
            "apt": list(self.apt_packages),
            "pip": list(self.packages.pip),
            "files": dict(sorted(self.files.items())),
        }

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of `build_inputs()`: the image's identity."""
        canonical = json.dumps(self.build_inputs(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse(text: str, *, source: str = "<recipe>") -> Recipe:
    """Parse and validate one recipe; InvalidArgument names the file and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidArgument(f"{source}: not valid TOML: {e}") from None
    return from_dict(data, source=source)


def from_dict(data: dict[str, Any], *, source: str = "<recipe>") -> Recipe:
    # TOML arrays arrive as lists; the strict model wants tuples (so recipes are immutable).
    def tuples(x: Any) -> Any:
        if isinstance(x, list):
            return tuple(tuples(i) for i in x)
        if isinstance(x, dict):
            return {k: tuples(v) for k, v in x.items()}
        return x

    try:
        return Recipe.model_validate(tuples(data))
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(recipe)"
            problems.append(f"field {field!r}: {err['msg']}")
        raise InvalidArgument(f"{source}: " + "; ".join(problems)) from None


def templates_dir() -> Path:
    """The recipes shipped with sandlot (package data)."""
    return Path(__file__).parent / "templates"


def user_templates_dir() -> Path:
    """Where a user's own recipes live; they override shipped ones of the same name."""
    from .store import store_root

    return store_root() / "templates"


def load_file(path: Path) -> Recipe:
    r = parse(path.read_text(encoding="utf-8"), source=str(path))
    if r.name != path.stem:
        raise InvalidArgument(f"{path}: field 'name': {r.name!r} differs from the file name")
    return r


def _recipe_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in (templates_dir(), user_templates_dir()):
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                found[p.stem] = p
    return found


def templates() -> list[Recipe]:
    """Every known template, shipped and user-defined, by name."""
    return [load_file(p) for _, p in sorted(_recipe_files().items())]


def recipe(name: str) -> Recipe:
    """The recipe called `name`; NotFound lists the known templates."""
    files = _recipe_files()
    if not re.match(_NAME, name) or name not in files:
        known = ", ".join(sorted(files)) or "(none)"
        raise NotFound(f"no template {name!r}; known templates: {known}")
    return load_file(files[name])


def host_debian_mirror(apt: Path = Path("/etc/apt")) -> str:
    """The first Debian archive this host's apt is configured with (deb822 `.sources`
    files or a one-line `sources.list`), so an image is built from the mirror the host
    already trusts and reaches; "" when there is none."""
    found: list[str] = []
    sources = apt / "sources.list.d"
    files = sorted(sources.glob("*.sources")) if sources.is_dir() else []
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for stanza in text.split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[0] != "#"
            )
            if "deb" in fields.get("Types", "").split():
                found += fields.get("URIs", "").split()
    try:
        for line in (apt / "sources.list").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and not parts[1].startswith("["):
                found.append(parts[1])
    except OSError:
        pass
    archives = [u.rstrip("/") for u in found if re.match(r"^https?://", u)]
    plain = [u for u in archives if u.endswith("/debian")]
    return (plain or archives or [""])[0]
