"""The remote SDK: `Sandbox.create(base_url=..., api_key=...)` behaves like a local sandbox.

Each behaviour runs on a local sandbox and on one behind the live server, and must give the
same results and raise the same exception types with the same messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandlot import (
    InvalidArgument,
    LimitExceeded,
    NotFound,
    Sandbox,
    SandboxClosed,
    SandboxError,
    TimeoutError,
)
from sandlot.runtimes.remote import RemoteError

from .conftest import Live


@pytest.fixture(scope="module", params=["local", "remote"])
def sbx(request: pytest.FixtureRequest, live: Live) -> Iterator[Sandbox]:
    if request.param == "local":
        box = Sandbox.create(metadata={"who": "me"})
    else:
        box = Sandbox.create(base_url=live.url, api_key=live.key, metadata={"who": "me"})
    with box:
        yield box


def test_identity(sbx: Sandbox, live: Live) -> None:
    assert sbx.tier == "wasm" and sbx.template == "python-data-analysis"
    assert sbx.metadata == {"who": "me"} and sbx.id.startswith("sbx_")


def test_run_code_keeps_state_and_returns_rich_results(sbx: Sandbox) -> None:
    sbx.run_code("import numpy as np\nx = np.arange(10)")
    ex = sbx.run_code("x.sum()")
    assert ex.text == "45" and ex.error is None
    ex = sbx.run_code("import pandas as pd\npd.DataFrame({'a': [1]})")
    assert ex.results[0].html is not None and "<table" in ex.results[0].html
    ex = sbx.run_code("1/0")
    assert ex.error is not None and ex.error.name == "ZeroDivisionError"
    assert ex.timings.total > 0


def test_stdout_callback_gets_chunks_as_they_come(sbx: Sandbox) -> None:
    seen: list[tuple[float, str]] = []
    code = "import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.25)"
    ex = sbx.run_code(code, on_stdout=lambda s: seen.append((time.monotonic(), s)))
    done = time.monotonic()
    assert "".join(s for _, s in seen) == "0\n1\n2\n" == ex.logs.stdout
    assert done - seen[0][0] > 0.4, "the first chunk came only at the end"
    errs: list[str] = []
    r = sbx.commands.run("echo out; echo err >&2; exit 2", on_stderr=errs.append)
    assert (r.stdout, r.stderr, r.exit_code, "".join(errs)) == ("out\n", "err\n", 2, "err\n")


def test_files_round_trip(sbx: Sandbox) -> None:
    blob = bytes(range(256)) * 64
    info = sbx.files.write("rt/blob.bin", blob)
    assert (info.path, info.size, info.type) == ("/home/user/rt/blob.bin", len(blob), "file")
    assert sbx.files.read("rt/blob.bin", format="bytes") == blob
    sbx.files.write("rt/t.txt", "héllo")
    assert sbx.files.read("/home/user/rt/t.txt") == "héllo"
    assert sorted(e.name for e in sbx.files.list("rt")) == ["blob.bin", "t.txt"]
    assert sbx.files.make_dir("rt/d") is True and sbx.files.make_dir("rt/d") is False
    assert sbx.files.rename("rt/t.txt", "rt/d/t.txt").path == "/home/user/rt/d/t.txt"
    assert sbx.files.get_info("rt/d").type == "dir"
    assert sbx.files.exists("rt/d/t.txt") and not sbx.files.exists("rt/t.txt")
    assert sbx.run_code("open('rt/d/t.txt').read()").text == "'héllo'"
    sbx.files.remove("rt")
    assert not sbx.files.exists("rt")


def test_same_errors_same_messages(sbx: Sandbox) -> None:
    with pytest.raises(NotFound) as nf:
        sbx.files.read("nope.txt")
    assert str(nf.value) == "cannot read /home/user/nope.txt: no such file or directory"
    with pytest.raises(InvalidArgument, match="depth must be an integer"):
        sbx.files.list(".", depth=0)
    with pytest.raises(InvalidArgument, match="timeout must be a positive number"):
        sbx.run_code("1", timeout=-1)
    with pytest.raises(InvalidArgument, match="is a directory"):
        sbx.files.read("/home")


def test_timeout_raises_and_the_sandbox_keeps_its_state(sbx: Sandbox) -> None:
    sbx.run_code("kept = 'yes'")
    seen: list[str] = []
    with pytest.raises(TimeoutError) as info:
        sbx.run_code(
            "print('before', flush=True)\nwhile True: pass", timeout=0.5, on_stdout=seen.append
        )
    assert "ran past its 0.5 s limit" in str(info.value)
    assert "".join(seen) == "before\n"
    assert sbx.run_code("kept").text == "'yes'"


def test_file_too_big_for_the_read_limit(live: Live) -> None:
    from sandlot import Limits

    limits = Limits(file_read_bytes=10)
    with (
        Sandbox.create(limits=limits) as local,
        Sandbox.create(limits=limits, base_url=live.url, api_key=live.key) as remote,
    ):
        errors = []
        for box in (local, remote):
            box.files.write("big", b"x" * 11)
            with pytest.raises(LimitExceeded) as info:
                box.files.read("big")
            assert info.value.limit == "file_size"
            errors.append(str(info.value))
        assert errors[0] == errors[1]


def test_remote_isolation_notes_are_the_servers(live: Live) -> None:
    # a process sandbox of python-data-analysis without its image notes the host-userland
    # fallback; the remote client must see the server's notes, not an empty list
    from sandlot.images import find

    if find("python-data-analysis") is not None:
        pytest.skip("python-data-analysis is built here: its process sandbox has no note")
    template, needs = "python-data-analysis", {"subprocess"}
    with Sandbox.create(template, requires=needs) as local:
        expected = local.isolation_notes
    with Sandbox.create(template, requires=needs, base_url=live.url, api_key=live.key) as remote:
        assert remote.tier == "process"
        assert remote.isolation_notes == expected and expected


def test_remote_expiry_and_close(live: Live) -> None:
    box = Sandbox.create(base_url=live.url, api_key=live.key, timeout=0.5)
    time.sleep(0.8)
    with pytest.raises(SandboxClosed, match="expired"):
        box.run_code("1")
    box = Sandbox.create(base_url=live.url, api_key=live.key)
    box.close()
    with pytest.raises(SandboxClosed):
        box.run_code("1")


def test_remote_connection_and_auth_failures(live: Live) -> None:
    with pytest.raises(RemoteError, match="127.0.0.1:9"):
        Sandbox.create(base_url="http://127.0.0.1:9", api_key="sl_x_y")
    with pytest.raises(SandboxError, match="refused the API key"):
        Sandbox.create(base_url=live.url, api_key="sl_x_y")
    with pytest.raises(InvalidArgument, match="API key"):
        Sandbox.create(base_url=live.url, api_key="")
    with pytest.raises(InvalidArgument, match="base_url"):
        Sandbox.create(base_url="ftp://x", api_key="k")


def test_per_call_limits_travel(sbx: Sandbox) -> None:
    from sandlot import Limits

    ex = sbx.run_code("print('x' * 100)", limits=Limits(output_bytes=10))
    assert ex.truncated == ("stdout",) and len(ex.logs.stdout) <= 10
    r = sbx.commands.run("echo 0123456789abcdef", limits=Limits(output_bytes=4))
    assert r.truncated == ("stdout",) and len(r.stdout) <= 4
    with pytest.raises(InvalidArgument, match="memory_bytes is a per-sandbox limit"):
        sbx.run_code("1", limits=Limits(memory_bytes=128 << 20))
    with pytest.raises(InvalidArgument, match="disk_bytes is a per-sandbox limit"):
        sbx.commands.run("true", limits=Limits(disk_bytes=8 << 20))


def test_remote_set_timeout_moves_the_servers_deadline(live: Live) -> None:
    import httpx

    with Sandbox.create(base_url=live.url, api_key=live.key, timeout=1.0) as box:
        box.set_timeout(60)
        time.sleep(1.5)  # past the first deadline: the server's reaper must not have taken it
        assert box.run_code("1 + 1").text == "2"
        r = httpx.get(
            f"{live.url}/v1/sandboxes/{box.id}", headers={"Authorization": f"Bearer {live.key}"}
        )
        assert r.status_code == 200


def test_remote_connect_attaches_to_a_live_sandbox_and_resumes_a_paused_one(live: Live) -> None:
    with Sandbox.create(base_url=live.url, api_key=live.key, metadata={"m": "1"}) as first:
        first.run_code("v = 5")
        again = Sandbox.connect(first.id, base_url=live.url, api_key=live.key, timeout=120)
        assert (again.id, again.tier, again.metadata) == (first.id, "wasm", {"m": "1"})
        assert again.run_code("v * 2").text == "10"
        sid = again.pause()
        with pytest.raises(SandboxClosed):
            first.run_code("v")
        back = Sandbox.connect(sid, base_url=live.url, api_key=live.key)
        assert back.run_code("v").text == "5"
        back.close()
    with pytest.raises(NotFound, match="no paused sandbox"):
        Sandbox.connect(sid, base_url=live.url, api_key=live.key)
    with pytest.raises(NotFound):  # another key's sandbox is one that does not exist
        with Sandbox.create(base_url=live.url, api_key=live.key) as mine:
            Sandbox.connect(mine.id, base_url=live.url, api_key=live.key_b)


def test_remote_snapshots_belong_to_the_key(live: Live) -> None:
    with Sandbox.create(base_url=live.url, api_key=live.key) as box:
        box.run_code("z = 3")
        info = box.create_snapshot("mine-only")
        assert (info.name, info.tier) == ("mine-only", "wasm")
        kids = box.fork(2)
    try:
        assert [k.run_code("z").text for k in kids] == ["3", "3"]
        assert len({k.id for k in kids}) == 2 and all(k.id.startswith("sbx_") for k in kids)
    finally:
        for k in kids:
            k.close()
    names = [s.name for s in Sandbox.list_snapshots(base_url=live.url, api_key=live.key)]
    assert "mine-only" in names
    assert "mine-only" not in [
        s.name for s in Sandbox.list_snapshots(base_url=live.url, api_key=live.key_b)
    ]
    with pytest.raises(NotFound, match="no snapshot 'mine-only'"):
        Sandbox.create(snapshot="mine-only", base_url=live.url, api_key=live.key_b)
    with Sandbox.create(snapshot="mine-only", base_url=live.url, api_key=live.key) as again:
        assert again.run_code("z").text == "3"
    Sandbox.delete_snapshot("mine-only", base_url=live.url, api_key=live.key)
    with pytest.raises(NotFound):
        Sandbox.delete_snapshot("mine-only", base_url=live.url, api_key=live.key)


def test_disk_bytes_travels_to_the_server(live: Live) -> None:
    import httpx

    from sandlot import Limits

    limits = Limits(disk_bytes=16 << 20)
    fill = (
        "try:\n"
        "    open('/home/user/fill', 'wb').write(b'x' * (32 << 20))\n"
        "    got = 'room'\n"
        "except OSError as e:\n"
        "    got = 'full'\n"
        "got"
    )
    with Sandbox.create(limits=limits, base_url=live.url, api_key=live.key) as remote:
        headers = {"Authorization": f"Bearer {live.key}"}
        body = httpx.get(f"{live.url}/v1/sandboxes/{remote.id}", headers=headers).json()
        assert body["limits"]["disk_bytes"] == 16 << 20
        expected = "'room'" if remote.isolation_notes else "'full'"  # no cap: refused after
        assert remote.run_code(fill).text == expected
