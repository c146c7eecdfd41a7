"""What a template's recipe says about the network, applied when a sandbox opens on this host.

- A recipe's `[network] policy = "allowlist"` becomes the sandbox's policy when the caller
  passed no `network=`; a caller's `network=` replaces it whole (explicit wins, so a caller
  can narrow a template to the hosts it needs). `policy = "deny"` is today's default.
- `websearch-tools` also gets the host's search endpoint: `SANDLOT_SEARCH_URL` (its host
  added to allow_out, the URL passed in as an env var) and `SANDLOT_SEARCH_HEADER`
  ("Header: value", a provider's key) as a secret bound to that host, so the key stays on
  the host. Its `websearch` and `fetch` commands are put on PATH after it opens.

Read here, in the SDK core, so every tier (and `sandlot serve`, whose sandboxes are cores
too) applies it alike; a sandbox on a remote server gets its server's settings instead.
"""

from __future__ import annotations

import os
import shlex
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import InvalidArgument, NotFound
from ..models import NetworkPolicy, Secrets
from ..runtimes.guest_paths import HOME

if TYPE_CHECKING:
    from .core import SandboxCore

WEBSEARCH = "websearch-tools"
SEARCH_URL_ENV = "SANDLOT_SEARCH_URL"
SEARCH_HEADER_ENV = "SANDLOT_SEARCH_HEADER"
TOOLS_BIN = HOME + "/.local/bin"
_TOOLS = "/opt/sandlot/sandlot_guest/agent/web_tools.py"  # in every tier's agent bundle
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def recipe_policy(template: str) -> NetworkPolicy | None:
    """The recipe's allowlist as a policy; None for `deny`, or a template without a recipe
    (`host`, an imported image)."""
    from ..images.recipe import recipe

    try:
        net = recipe(template).network
    except (NotFound, InvalidArgument):
        return None
    if net.policy != "allowlist" or not net.allow:
        return None
    return NetworkPolicy(allow_out=net.allow)


def search_endpoint() -> tuple[str, str] | None:
    """(URL, host) of the configured search API, or None; a URL that is not http(s) with a
    host is an InvalidArgument naming the setting."""
    url = os.environ.get(SEARCH_URL_ENV, "").strip()
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"{SEARCH_URL_ENV}={url!r} is not an http(s) URL with a host")
    return url, parts.hostname


def configure_search(settings: Mapping[str, str]) -> None:
    """A server's `[websearch]` table (search_url, search_header) as this process's
    settings: they win over the environment `sandlot serve` was started with."""
    for key, env in (("search_url", SEARCH_URL_ENV), ("search_header", SEARCH_HEADER_ENV)):
        if settings.get(key):
            os.environ[env] = settings[key]


def _search_secret(host: str) -> Secrets:
    header = os.environ.get(SEARCH_HEADER_ENV, "")
    if not header:
        return Secrets()
    name, sep, value = header.partition(":")
    if not sep or not name.strip():
        raise InvalidArgument(f"{SEARCH_HEADER_ENV} must be 'Header: value'")
    return Secrets({host: {name.strip(): value.strip()}})


def apply(
    template: str,
    network: NetworkPolicy | None,
    envs: Mapping[str, str],
    secrets: Secrets,
) -> tuple[NetworkPolicy | None, dict[str, str], Secrets]:
    """The sandbox's policy, envs and secrets once its template's recipe is applied."""
    network = network if network is not None else recipe_policy(template)
    envs = dict(envs)
    if template != WEBSEARCH or network is None:
        return network, envs, secrets
    envs.setdefault("PATH", f"{TOOLS_BIN}:{_PATH}")
    endpoint = search_endpoint()
    if endpoint is None:
        return network, envs, secrets
    url, host = endpoint
    envs.setdefault(SEARCH_URL_ENV, url)
    if host not in network.allow_out:
        network = NetworkPolicy(allow_out=(*network.allow_out, host), deny_out=network.deny_out)
    extra = _search_secret(host)
    if extra:
        secrets = Secrets({**{h: dict(v) for h, v in secrets.items()}, **extra})
    return network, envs, secrets


def after_open(core: SandboxCore) -> None:
    """Put `websearch` and `fetch` on PATH in a websearch-tools sandbox (the guest's HOME,
    so the host-userland fallback without an image has them too)."""
    if core.template != WEBSEARCH:
        return
    lines = [f"mkdir -p {TOOLS_BIN}"]
    for name in ("websearch", "fetch"):
        path = f"{TOOLS_BIN}/{name}"
        script = f'#!/bin/sh\nexec python3 {_TOOLS} {name} "$@"\n'
        lines.append(f"printf %s {shlex.quote(script)} > {path} && chmod 755 {path}")
    done = core.run_command(" && ".join(lines), timeout=30.0)
    if done.exit_code != 0:
        raise InvalidArgument(f"installing websearch/fetch failed: {done.stderr}")
