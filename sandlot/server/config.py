"""What one `sandlot serve` process is allowed to do, and where it keeps its state."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .ceilings import Ceilings


def default_data_dir() -> Path:
    """$SANDLOT_DATA, else ~/.local/share/sandlot (XDG's default data home)."""
    env = os.environ.get("SANDLOT_DATA")
    return Path(env) if env else Path.home() / ".local" / "share" / "sandlot"


MAX_REQUEST_HEAD = 256 << 10
"""Bytes of request line and headers uvicorn accepts (h11's default is 16 KiB). A file path
may be 16384 characters, up to 12 bytes each once percent-encoded in the query: a smaller
head would make the transport reset such a request instead of the app answering it."""


@dataclass
class ServerConfig:
    """Server settings; every limit here is the server's, whatever a client asks for.

    default_timeout / max_timeout: a sandbox's lifetime in seconds when none is given, and
        the most a client may ask for (at create or set_timeout).
    max_sandboxes_per_key: live sandboxes one API key may hold at once.
    max_upload_bytes: the largest file an upload may write (more: 413).
    max_file_read_bytes: the largest file a download may return (caps `limits`).
    reap_interval: seconds between sweeps for expired sandboxes.
    allow_push / max_push_bytes: whether `sandlot push` may upload images, and how large.
    pools: warm pools, `{template: size}` or `{template: {tier: size}}` (the config
        file's `[pools]` table); see `sandlot.server.pools`.
    metrics_token: a bearer token for the operator's Prometheus: `/metrics` with it counts
        every key's sandboxes (an API key's scrape counts its own only). None: no such view.
    limits: the ceilings on what a request may ask for (the `[limits]` table); see
        `sandlot.server.ceilings`.
    head_timeout: seconds a connection may take to send a whole request head (then it
        is closed: slow clients cannot hold connections open).
    keep_alive_timeout: seconds an idle kept-alive connection stays open.
    max_connections_per_client: open connections one client address may hold at once
        (more are answered 429 and closed).
    websearch: the `[websearch]` table: `search_url` (a SearXNG-compatible JSON API) and
        `search_header` ("Header: value", a provider's key, kept outside the sandbox), the
        server's SANDLOT_SEARCH_URL / SANDLOT_SEARCH_HEADER for `websearch-tools`.
    """

    host: str = "127.0.0.1"
    port: int = 7070
    data_dir: Path = field(default_factory=default_data_dir)
    default_timeout: float = 300.0
    max_timeout: float = 3600.0
    max_sandboxes_per_key: int = 16
    max_upload_bytes: int = 100 << 20
    max_file_read_bytes: int = 100 << 20
    reap_interval: float = 1.0
    allow_push: bool = False
    max_push_bytes: int = 8 << 30
    pools: dict[str, Any] = field(default_factory=dict)
    metrics_token: str | None = None
    limits: Ceilings = field(default_factory=Ceilings)
    head_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections_per_client: int = 256
    websearch: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.limits = Ceilings.from_table(self.limits)
        for name in ("head_timeout", "keep_alive_timeout", "max_connections_per_client"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        token = self.metrics_token
        if token is not None and not (isinstance(token, str) and len(token) >= 16):
            raise ValueError("metrics_token must be a string of at least 16 characters")
        unknown = sorted(set(self.websearch) - {"search_url", "search_header"})
        if unknown or not all(isinstance(v, str) for v in self.websearch.values()):
            raise ValueError("[websearch] takes search_url and search_header, as strings")

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> ServerConfig:
        """Settings from a TOML file: top-level keys are this class's fields (`port`,
        `max_timeout`, ...), `[limits]` its ceilings and `[pools]` its warm pools;
        `overrides` win over the file.

            max_sandboxes_per_key = 32
            [limits]
            memory_bytes = 2147483648       # 2 GiB
            [pools]
            python-data-analysis = 2        # on the tier a plain create would get
            base = { process = 1 }          # per tier
        """
        try:
            raw = tomllib.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"cannot read the config file {path}: {e}") from None
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}")
        values: dict[str, Any] = dict(raw)
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        values.update(overrides)
        return cls(**values)

    @property
    def db_path(self) -> Path:
        return Path(self.data_dir) / "server.db"


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
