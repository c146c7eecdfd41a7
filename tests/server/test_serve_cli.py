"""`sandlot keys` and the refusal of `sandlot serve` to expose a keyless server."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sandlot.cli.main import app
from sandlot.server import KeyStore
from sandlot.server.config import is_loopback

runner = CliRunner()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    made = runner.invoke(app, ["keys", "create", "--name", "ci", "--data", str(tmp_path)])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("sl_")
    store = KeyStore(tmp_path / "server.db")
    key_id = store.verify(key)
    assert key_id is not None
    assert key not in (tmp_path / "server.db").read_bytes().decode("latin-1")  # hashed only
    listed = runner.invoke(app, ["keys", "list", "--data", str(tmp_path)])
    assert key_id in listed.stdout and "ci" in listed.stdout and "live" in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", key_id, "--data", str(tmp_path)]).exit_code == 0
    assert store.verify(key) is None
    assert runner.invoke(app, ["keys", "revoke", key_id, "--data", str(tmp_path)]).exit_code == 1
    store.close()


def test_serve_refuses_a_public_host_without_keys(tmp_path: Path) -> None:
    r = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--data", str(tmp_path)])
    assert r.exit_code == 2
    assert "refusing to bind 0.0.0.0" in r.output


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
