"""What an MCP server's operator lets its agents do: which tiers and templates, how many
sandboxes per session, and the rule that picks a tier for each sandbox.

An agent is whoever speaks MCP to the server, so it is as untrusted as the code it runs:
everything here is decided by the operator (a TOML file, `sandlot mcp --config FILE`),
never by the agent. The tier rule (docs/mcp.md):

- the server's own default template (the default sandbox, or `create_sandbox` without a
  template) runs on the lightest allowed tier that serves it, as `Sandbox.create` picks:
  on wasm where wasm is allowed, where the code can make no system call of its own;
- a template the agent names runs on the strongest allowed tier available here that
  serves it (microvm, gvisor, process, wasm, in that order), or on wasm first when the
  operator sets `agent_templates_on_wasm` and wasm serves it;
- a tier the agent names is used only if the operator set `agent_picks_tier` and allows it;
- a tier that would serve the template from the host's own userland (process or gvisor,
  for `python-data-analysis` with no image built) is skipped unless `host` is allowed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import SandboxError
from ..runtimes.linux.userland import HOST_FALLBACK
from ..runtimes.registry import tier_named, tier_names
from ..sdk.core import DEFAULT_TEMPLATE
from ..sdk.template_network import recipe_policy

HOST_TEMPLATE = "host"
"""The host's own userland (its /usr and part of its /etc, read-only) on a Linux tier:
for trusted code, so never offered to agents unless the operator lists it."""

HOST_USERLAND_TIERS = ("process", "gvisor")
"""The tiers that serve a fallback template (`HOST_FALLBACK`) without an image from the
host's userland (microvm boots only images)."""

DEFAULT_MAX_SANDBOXES = 8

STRONGEST_FIRST = ("microvm", "gvisor", "process", "wasm")
"""The tiers by isolation from the host, strongest first (a tier not named here comes last)."""

TIER_ABILITIES = {
    "wasm": "WebAssembly in the server's own process: Python (numpy, pandas, matplotlib) and "
    "sandlot's own shell; no subprocesses, no network, no system calls of its own",
    "process": "a Linux process tree under bubblewrap, seccomp and Landlock on the host's "
    "kernel: bash, subprocesses, the template image's tools; network (allow_out) where the "
    "operator allows it",
    "gvisor": "Linux under gVisor's user-space kernel (runsc): bash, subprocesses, the "
    "template image's tools; the host's kernel is behind gVisor; network (allow_out) where "
    "the operator allows it",
    "microvm": "its own Linux kernel in a QEMU virtual machine: bash, subprocesses, the "
    "template image's tools; the strongest isolation; no network",
}


class NotAllowed(SandboxError):
    """The server's operator does not allow what the agent asked for; nothing was started."""


@dataclass(frozen=True)
class McpConfig:
    """The operator's settings for `sandlot mcp` (the TOML file's top-level keys).

    tiers: the tiers sandboxes may run on (default: every tier sandlot has).
    templates: the templates agents may use (default: every one but `host`, which is
        allowed only when listed).
    default_template: the template of the default sandbox and of `create_sandbox` without
        one (default: python-data-analysis); must be allowed.
    max_sandboxes_per_session: live sandboxes one MCP session may hold, the default one
        included.
    agent_picks_tier: whether `create_sandbox` may name a tier (one of `tiers`).
    agent_templates_on_wasm: run an agent-named template that wasm serves on wasm, rather
        than on the strongest tier available.
    sandbox_timeout: seconds a sandbox lives unused (each tool call on it renews it).
    allow_network: whether `create_sandbox` may give a sandbox a network (its `allow_out`
        hosts, through the host's gateway, on a tier that enforces it); off by default.
    """

    tiers: tuple[str, ...] = tier_names()
    templates: tuple[str, ...] | None = None
    default_template: str = DEFAULT_TEMPLATE
    max_sandboxes_per_session: int = DEFAULT_MAX_SANDBOXES
    agent_picks_tier: bool = False
    agent_templates_on_wasm: bool = False
    sandbox_timeout: float = 1800.0
    allow_network: bool = False

    def __post_init__(self) -> None:
        known = tier_names()
        if not self.tiers:
            raise ValueError("tiers: allow at least one tier")
        for name in self.tiers:
            if name not in known:
                raise ValueError(f"tiers: {name!r} is not a tier; the tiers are {', '.join(known)}")
        if self.templates is not None and not self.templates:
            raise ValueError("templates: allow at least one template (or leave it out)")
        if not self.template_allowed(self.default_template):
            raise ValueError(
                f"default_template {self.default_template!r} is not among the allowed "
                f"templates ({self.allowed_templates()})"
            )
        if self.max_sandboxes_per_session < 1:
            raise ValueError("max_sandboxes_per_session must be at least 1")
        if self.sandbox_timeout <= 0:
            raise ValueError("sandbox_timeout must be a positive number of seconds")

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> McpConfig:
        """Settings from a TOML file whose top-level keys are this class's fields;
        `overrides` (the flags given) win over the file."""
        try:
            raw = tomllib.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"cannot read the config file {path}: {e}") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}")
        values: dict[str, Any] = {**raw, **overrides}
        for key, value in values.items():
            if not isinstance(value, _KINDS[key]) or (isinstance(value, bool) != (key in _FLAGS)):
                raise ValueError(f"{path}: {key} must be {_KIND_NAMES[key]}")
            if isinstance(value, list):
                if not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{path}: {key} must be a list of names")
                values[key] = tuple(value)
        try:
            return cls(**values)
        except TypeError as e:
            raise ValueError(f"{path}: {e}") from None

    def template_allowed(self, template: str) -> bool:
        if self.templates is None:
            return template != HOST_TEMPLATE
        return template in self.templates

    def allowed_templates(self) -> str:
        if self.templates is None:
            return f"any template but {HOST_TEMPLATE!r}"
        return ", ".join(self.templates)


_FLAGS = ("agent_picks_tier", "agent_templates_on_wasm", "allow_network")
_KINDS: dict[str, type | tuple[type, ...]] = {
    "tiers": list,
    "templates": list,
    "default_template": str,
    "max_sandboxes_per_session": int,
    "agent_picks_tier": bool,
    "agent_templates_on_wasm": bool,
    "sandbox_timeout": (int, float),
    "allow_network": bool,
}
_KIND_NAMES = {
    "tiers": "a list of tier names",
    "templates": "a list of template names",
    "default_template": "a template name",
    "max_sandboxes_per_session": "a whole number",
    "agent_picks_tier": "true or false",
    "agent_templates_on_wasm": "true or false",
    "sandbox_timeout": "a number of seconds",
    "allow_network": "true or false",
}
"""What each setting of the file must be (TOML's types), and how to say so."""


@dataclass(frozen=True)
class Plan:
    """The template to start and the tiers to try, in order (the first that starts wins)."""

    template: str
    tiers: tuple[str, ...]


def _strength(tier: str) -> int:
    return STRONGEST_FIRST.index(tier) if tier in STRONGEST_FIRST else len(STRONGEST_FIRST)


def _remote() -> bool:
    """Whether sandboxes run on a `sandlot serve` host ($SANDLOT_URL), whose tiers are its
    own to check: this host's availability says nothing about them."""
    return bool(os.environ.get("SANDLOT_URL"))


def _serves(tier: str, template: str) -> tuple[bool, str]:
    """Whether `tier` can serve `template` here, as far as is known before opening one, and
    why not."""
    runtime = tier_named(tier)
    if runtime.templates is not None and template not in runtime.templates:
        return False, f"{tier} has no form of template {template!r}"
    if _remote():
        return True, ""
    avail = runtime.availability()
    return (True, "") if avail.ok else (False, f"{tier} is not available here ({avail.reason})")


def _auto_build() -> bool:
    """Whether a missing image is built on first use (`sandlot.images`' own switch)."""
    return os.environ.get("SANDLOT_AUTO_BUILD", "").strip().lower() in ("1", "true", "yes")


def _on_host_userland(tier: str, template: str) -> bool:
    """Whether `tier` would serve `template` from the host's own userland, as `host` is: the
    Linux tiers that fall back to it do so for a fallback template without an image here.
    A `sandlot serve` host's images are its own: not known from here."""
    if tier not in HOST_USERLAND_TIERS or template not in HOST_FALLBACK or _remote():
        return False
    from .. import images

    return images.find(template) is None and not _auto_build()


def plan(
    config: McpConfig, template: str | None, tier: str | None, networked: bool = False
) -> Plan:
    """Where a sandbox the agent asked for may start (`networked`: one with a network
    policy, on tiers that enforce it); NotAllowed when the operator's settings rule it out."""
    if networked and not config.allow_network:
        raise NotAllowed(
            "this server's operator does not allow sandboxes a network (allow_network = "
            "false); leave allow_out out"
        )
    name = config.default_template if template is None else template
    if not config.template_allowed(name):
        raise NotAllowed(
            f"template {name!r} is not allowed by this server's operator "
            f"(allowed: {config.allowed_templates()})"
        )
    if not networked and recipe_policy(name) is not None:  # its recipe turns network on
        if not config.allow_network:
            raise NotAllowed(
                f"template {name!r} has network on (its recipe's allowlist), which this "
                "server's operator does not allow (allow_network = false)"
            )
        networked = True
    allowed = ", ".join(config.tiers)
    if tier is not None:
        if not config.agent_picks_tier:
            raise NotAllowed(
                "this server's operator does not let agents pick the tier; leave tier out "
                f"and the server picks one of: {allowed}"
            )
        if tier not in config.tiers:
            raise NotAllowed(
                f"tier {tier!r} is not allowed by this server's operator (allowed: {allowed})"
            )
        order, probe = [tier], False
    elif template is None:
        order, probe = [t for t in tier_names() if t in config.tiers], False
    else:
        order, probe = sorted(config.tiers, key=_strength), True
        if config.agent_templates_on_wasm and "wasm" in order:
            order.remove("wasm")
            order.insert(0, "wasm")
    host_ok = config.template_allowed(HOST_TEMPLATE)
    candidates: list[str] = []
    reasons: list[str] = []
    for t in order:
        ok, why = _serves(t, name) if probe else (True, "")
        if ok and networked and "network" not in tier_named(t).capabilities:
            ok, why = False, f"{t} cannot enforce a network policy"
        if ok and not host_ok and _on_host_userland(t, name):
            ok = False
            why = (
                f"{t} would serve {name!r} from the host's own userland (its image is not "
                "built here), which this server's operator allows only as template 'host'"
            )
        if ok:
            candidates.append(t)
        else:
            reasons.append(why)
    if not candidates:
        raise NotAllowed(
            f"no tier this server's operator allows (allowed: {allowed}) can serve template "
            f"{name!r} here: {'; '.join(reasons)}"
        )
    return Plan(name, tuple(candidates))


def describe_tiers(config: McpConfig) -> str:
    """What each allowed tier can do, for the agent (the create_sandbox tool's description)."""
    return "\n".join(
        f"- {t}: {TIER_ABILITIES.get(t, f'the {t} tier')}"
        for t in sorted(config.tiers, key=_strength)
    )
