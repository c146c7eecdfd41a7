"""sbx.commands.run on the wasm tier: the in-guest shell, driven through the SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandlot import Sandbox, TimeoutError


def test_shell_state_persists_between_commands(sbx: Sandbox) -> None:
    assert sbx.commands.run("export N=3; cd /tmp").exit_code == 0
    r = sbx.commands.run("echo $N; pwd")
    assert r.stdout == "3\n/tmp\n" and r.exit_code == 0


def test_non_zero_exit_is_a_result(sbx: Sandbox) -> None:
    r = sbx.commands.run("echo oops >&2; exit 7")
    assert r.exit_code == 7 and r.stderr == "oops\n"
    assert sbx.commands.run("false").exit_code == 1


def test_per_call_envs_and_cwd_do_not_persist(sbx: Sandbox) -> None:
    r = sbx.commands.run("echo $ONLY; pwd", envs={"ONLY": "once"}, cwd="/tmp")
    assert r.stdout == "once\n/tmp\n"
    r = sbx.commands.run('echo "[$ONLY]"; pwd')
    assert r.stdout == "[]\n/home/user\n"


def test_stdin_is_given_to_the_command(sbx: Sandbox) -> None:
    r = sbx.commands.run('read a b; echo "$b $a"', stdin="one two\n")
    assert r.stdout == "two one\n"


def test_python3_runs_isolated_from_run_code(sbx: Sandbox) -> None:
    sbx.run_code("secret = 1")
    r = sbx.commands.run(
        "python3 -c 'import sys; print(sys.version_info[:2]); print(\"secret\" in globals())'"
    )
    assert r.stdout == "(3, 15)\nFalse\n"
    r = sbx.commands.run("python3 -c 'import sys; sys.exit(4)'")
    assert r.exit_code == 4
    assert sbx.run_code("secret").text == "1"


def test_shell_and_python_share_files(sbx: Sandbox) -> None:
    sbx.commands.run("echo from-shell > /home/user/s.txt")
    assert sbx.run_code("open('/home/user/s.txt').read()").text == "'from-shell\\n'"
    sbx.run_code("open('/home/user/p.txt', 'w').write('from-python')")
    r = sbx.commands.run('read line < /home/user/p.txt; echo "$line"')
    assert r.stdout == "from-python\n"
    assert sbx.files.read("/home/user/s.txt") == "from-shell\n"


def test_cd_in_the_shell_does_not_move_run_code(sbx: Sandbox) -> None:
    sbx.commands.run("cd /tmp")
    assert sbx.run_code("import os; os.getcwd()").text == "'/home/user'"


def test_infinite_loop_times_out_and_the_shell_lives_on(sbx: Sandbox) -> None:
    sbx.commands.run("export KEPT=yes")
    with pytest.raises(TimeoutError):
        sbx.commands.run("while true; do :; done", timeout=1)
    assert sbx.commands.run("echo $KEPT").stdout == "yes\n"


def test_output_streams_before_the_command_ends(sbx: Sandbox) -> None:
    chunks: list[str] = []
    r = sbx.commands.run(
        "for i in 1 2 3; do echo $i; python3 -c 'import time; time.sleep(0.06)'; done",
        on_stdout=chunks.append,
    )
    assert r.stdout == "1\n2\n3\n"
    assert len(chunks) >= 2


def test_tools_that_need_a_linux_tier_say_so(sbx: Sandbox) -> None:
    r = sbx.commands.run("pip install requests")
    assert r.exit_code == 127 and "subprocess" in r.stderr


def test_cli_exec_exits_with_the_command_status() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "exec", "echo hi; exit 5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 5 and done.stdout == "hi\n"


def test_interactive_shell_keeps_state_and_survives_ctrl_c() -> None:
    import signal
    import threading
    import time

    def ctrl_c_as_at_a_terminal() -> None:
        # A test run started in the background (`cmd &` in a script, nohup) inherits SIGINT
        # ignored, and so would the shell under test: give it the disposition a terminal has.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        [sys.executable, "-m", "sandlot.cli.main"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ctrl_c_as_at_a_terminal,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        banner = proc.stderr.readline()  # printed once the sandbox is up
        assert "Ctrl-D leaves" in banner
        proc.stdin.write("export X=5\necho looping; while true; do :; done\n")
        proc.stdin.flush()
        seen: list[str] = []
        looping = threading.Event()

        def read_stdout() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                seen.append(line)
                if "looping" in line:
                    looping.set()

        reader = threading.Thread(target=read_stdout, daemon=True)
        reader.start()
        assert looping.wait(120), seen  # the loop is running inside the guest
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        time.sleep(1)
        proc.stdin.write("echo after $X\n")
        proc.stdin.close()
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            sig = [ln for ln in open(f"/proc/{proc.pid}/status") if ln.startswith("Sig")]
            pytest.fail(f"Ctrl-C did not stop the loop; the shell's signal masks: {sig}")
        assert proc.returncode == 0
        reader.join(10)
        assert any("after 5" in line for line in seen), seen
        assert "^C" in proc.stderr.read()
    finally:
        proc.kill()
