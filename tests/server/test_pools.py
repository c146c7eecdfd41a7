"""Warm pools from the server's config file, with real wasm sandboxes over real HTTP: a
create takes a ready sandbox (a hit), the pool refills in the background, a create it
cannot serve is a miss, /metrics says so, and closing the server closes the pool."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from sandlot.server import KeyStore, ServerConfig
from sandlot.server.pools import parse

from .conftest import serving


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    return 0.0


def wait_for(what: str, check: object, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_config_file_pools_parse(tmp_path: Path) -> None:
    f = tmp_path / "server.toml"
    f.write_text(
        "max_sandboxes_per_key = 3\n[pools]\npython-data-analysis = 1\nbase = { process = 2 }\n"
    )
    cfg = ServerConfig.from_file(f, data_dir=tmp_path)
    assert cfg.max_sandboxes_per_key == 3
    specs = parse(cfg.pools)
    assert [(s.template, s.tier, s.size) for s in specs] == [
        ("python-data-analysis", None, 1),
        ("base", "process", 2),
    ]
    for bad in ({"x": -1}, {"x": 17}, {"x": "2"}, {"x": {"wasm": True}}):
        with pytest.raises(ValueError, match="pools.x"):
            parse(bad)
    with pytest.raises(ValueError, match="more than"):
        parse({f"t{i}": 16 for i in range(5)})
    f.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="unknown setting.*prot"):
        ServerConfig.from_file(f)


def test_a_pool_of_one_serves_refills_and_counts(tmp_path: Path) -> None:
    f = tmp_path / "server.toml"
    f.write_text("[pools]\npython-data-analysis = 1\n")
    cfg = ServerConfig.from_file(f, data_dir=tmp_path, reap_interval=0.2)
    store = KeyStore(tmp_path / "server.db")
    _, key = store.create("pool")
    with serving(cfg, store) as (url, app):
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        pool = app.state.pools._pools[("python-data-analysis", "wasm")]

        def ready() -> float:
            text = api.get("/metrics").text
            return metric(text, "sandlot_pool_ready", template="python-data-analysis", tier="wasm")

        wait_for("the pool to fill", lambda: ready() == 1)
        pooled_id = pool._ready[0].id
        began = time.perf_counter()
        r = api.post("/v1/sandboxes", json={"metadata": {"who": "pool"}, "timeout": 60})
        took = time.perf_counter() - began
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["id"] == pooled_id and body["metadata"] == {"who": "pool"}
        assert body["tier"] == "wasm"
        text = api.get("/metrics").text
        labels = {"template": "python-data-analysis", "tier": "wasm"}
        assert metric(text, "sandlot_pool_hits_total", **labels) == 1
        # The sandbox is an ordinary one: it runs, keeps state, and lives the asked 60 s.
        sid = body["id"]
        code = api.post(f"/v1/sandboxes/{sid}/code", json={"code": "x = 6\nx * 7"}).json()
        assert code["results"][0]["text"] == "42"
        # The refill happens in the background.
        wait_for("the refill", lambda: ready() == 1)
        assert pool.filled == 2
        # A create the pool can't serve (its own limits) is a miss and a fresh sandbox.
        r = api.post("/v1/sandboxes", json={"limits": {"output_bytes": 1000}})
        assert r.status_code == 201 and r.json()["id"] != pool._ready[0].id
        text = api.get("/metrics").text
        assert metric(text, "sandlot_pool_misses_total", **labels) == 1
        assert metric(text, "sandlot_pool_hits_total", **labels) == 1
        print(f"create from the pool: {took * 1000:.1f} ms")
        ready_core = pool._ready[0]
        api.close()
    # Shutdown closed the pool's sandbox and stopped its refill thread.
    assert ready_core.closed and not pool._thread.is_alive()
    store.close()
