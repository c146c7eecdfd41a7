"""run_code: state, rich results, logs, errors, timings, callbacks."""

from __future__ import annotations

import asyncio
import time

import pytest

import sandlot
from sandlot import AsyncSandbox, Sandbox


def test_state_persists_between_calls(sbx: Sandbox) -> None:
    sbx.run_code("import numpy as np; x = np.arange(10)")
    ex = sbx.run_code("x.sum()")
    assert ex.text == "45"
    assert ex.error is None


def test_last_expression_and_execution_count(sbx: Sandbox) -> None:
    first = sbx.run_code("a = 2")
    assert first.results == [] and first.text is None
    second = sbx.run_code("a * 21")
    assert second.text == "42"
    assert second.results[0].is_main_result
    assert second.execution_count == first.execution_count + 1


def test_dataframe_has_html_and_text(sbx: Sandbox) -> None:
    sbx.files.write("/home/user/data.csv", "a,b\n1,2\n")
    ex = sbx.run_code("import pandas as pd; pd.read_csv('/home/user/data.csv')")
    main = ex.results[0]
    assert main.text is not None and "a" in main.text and "1" in main.text
    assert main.html is not None and "<table" in main.html


def test_matplotlib_figure_is_png(sbx: Sandbox) -> None:
    ex = sbx.run_code("import matplotlib.pyplot as plt; plt.plot([1,3,2]); plt.show()")
    assert ex.error is None, ex.error
    pngs = [r.png for r in ex.results if r.png]
    assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG\r\n\x1a\n")
    assert ex.logs.stderr == ""  # no "non-interactive backend" warning
    again = sbx.run_code("1")  # figures were closed: nothing shown twice
    assert [r.png for r in again.results if r.png] == []


def test_open_figure_at_cell_end_is_shown(sbx: Sandbox) -> None:
    ex = sbx.run_code("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar([1], [2])")
    assert any(r.png for r in ex.results)


def test_logs_and_error(sbx: Sandbox) -> None:
    ex = sbx.run_code("import sys\nprint('out')\nprint('err', file=sys.stderr)\n1/0")
    assert ex.logs.stdout == "out\n"
    assert ex.logs.stderr == "err\n"
    assert ex.error is not None
    assert ex.error.name == "ZeroDivisionError"
    assert ex.error.value == "division by zero"
    assert "line 4" in ex.error.traceback and "1/0" in ex.error.traceback


def test_syntax_error_is_reported(sbx: Sandbox) -> None:
    ex = sbx.run_code("def f(:\n  pass")
    assert ex.error is not None and ex.error.name == "SyntaxError"
    assert sbx.run_code("1 + 1").text == "2"


def test_system_exit_does_not_end_the_sandbox(sbx: Sandbox) -> None:
    sbx.run_code("keep = 'yes'")
    ex = sbx.run_code("import sys; sys.exit(3)")
    assert ex.error is not None and ex.error.name == "SystemExit" and ex.error.value == "3"
    ex = sbx.run_code("exit(4)")
    assert ex.error is not None and ex.error.name == "SystemExit"
    assert sbx.run_code("keep").text == "'yes'"


def test_timings_are_filled(sbx: Sandbox) -> None:
    t = sbx.run_code("sum(range(1000))").timings
    assert t.run > 0 and t.total >= t.run and t.queued >= 0


def test_stdout_callback_receives_chunks_during_the_call(sbx: Sandbox) -> None:
    seen: list[str] = []
    code = "import time\nfor i in range(3):\n    print(i)\n    time.sleep(0.06)\n"
    ex = sbx.run_code(code, on_stdout=seen.append)
    assert "".join(seen) == ex.logs.stdout == "0\n1\n2\n"
    assert len(seen) >= 2  # flushed as produced, not once at the end


def test_callback_exception_is_raised_after_the_call(sbx: Sandbox) -> None:
    def bad(_: str) -> None:
        raise RuntimeError("callback bug")

    with pytest.raises(RuntimeError, match="callback bug"):
        sbx.run_code("print('x')", on_stdout=bad)
    assert sbx.run_code("2").text == "2"


def test_envs_and_working_directory() -> None:
    with Sandbox.create(envs={"GREETING": "hello"}) as sbx:
        ex = sbx.run_code("import os; (os.environ['GREETING'], os.getcwd(), os.environ['HOME'])")
        assert ex.text == "('hello', '/home/user', '/home/user')"


def test_identity_and_metadata() -> None:
    with Sandbox.create(metadata={"owner": "me"}) as sbx:
        assert sbx.id.startswith("sbx_")
        assert sbx.tier == "wasm"
        assert sbx.metadata == {"owner": "me"}
        assert "live" in repr(sbx)
    assert sbx.closed


def test_async_twin_runs_the_same_calls() -> None:
    async def main() -> tuple[str | None, list[str]]:
        chunks: list[str] = []

        async def on_out(s: str) -> None:
            chunks.append(s)

        async with await AsyncSandbox.create() as sbx:
            await sbx.run_code("y = 6")
            ex = await sbx.run_code("print('p'); y * 7", on_stdout=on_out)
            await sbx.files.write("f.txt", "abc")
            assert await sbx.files.read("f.txt") == "abc"
            return ex.text, chunks

    text, chunks = asyncio.run(main())
    assert text == "42" and chunks == ["p\n"]


def test_async_calls_run_concurrently_across_sandboxes() -> None:
    async def main() -> list[str | None]:
        boxes = [await AsyncSandbox.create() for _ in range(2)]
        try:
            runs = [b.run_code("import time; time.sleep(0.3); 'done'") for b in boxes]
            return [ex.text for ex in await asyncio.gather(*runs)]
        finally:
            for b in boxes:
                await b.close()

    assert asyncio.run(main()) == ["'done'", "'done'"]


def test_sync_face_is_generated_from_async_face() -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "unasync.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_public_exceptions_share_one_root() -> None:
    for name in (
        "TimeoutError",
        "LimitExceeded",
        "SandboxClosed",
        "InvalidArgument",
        "NotFound",
        "Unsatisfiable",
    ):
        assert issubclass(getattr(sandlot, name), sandlot.SandboxError)


@pytest.mark.parametrize(
    "tail",
    ["time.sleep(0.4)", "t = time.monotonic()\nwhile time.monotonic() - t < 0.4:\n    pass"],
)
def test_old_output_leaves_while_the_code_runs_on(sbx: Sandbox, tail: str) -> None:
    """Output written just before a long quiet stretch arrives during it, not at the end."""
    arrived: list[float] = []
    start = time.monotonic()
    code = f"import time\nprint('a')\nprint('b')\n{tail}\n"
    sbx.run_code(code, on_stdout=lambda _: arrived.append(time.monotonic() - start))
    end = time.monotonic() - start
    assert arrived and arrived[-1] < end - 0.2, (arrived, end)
