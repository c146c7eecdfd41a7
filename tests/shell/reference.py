"""Which corpus cases real bash and GNU tools pass, and how the sandbox shell does on those.

The issue's targets are relative to the real tools (>= 95 % of the oils cases bash passes,
>= 90 % of the toybox cases GNU passes), so this module runs every case through the host's
`/bin/bash` and coreutils with the same harness our runner uses (same env, temp dir, stdin,
per-case timeout, the same skipped /dev/zero cases) and checks in which cases pass.

Regenerate the reference files (minutes; needs bash 5.2 and GNU tools on the host):

    /work/venv/bin/python -m tests.shell.reference bash      # -> oils_bash_reference.json
    /work/venv/bin/python -m tests.shell.reference gnu       # -> toybox_gnu_reference.json

Measure the sandbox shell against them and refresh the tables in docs/shell.md:

    /work/venv/bin/python -m tests.shell.reference table [--write]
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from . import oils

HERE = Path(__file__).resolve().parent
OILS_REF = HERE / "oils_bash_reference.json"
TOYBOX_REF = HERE / "toybox_gnu_reference.json"
DOC = HERE.parents[1] / "docs" / "shell.md"
BASH = "/bin/bash"
CASE_SECONDS = 5.0

# Helpers the oils cases call; same output as tests/shell/oils.py gives the sandbox shell.
_HELPERS = {
    "argv.py": """
import sys
def r(s):
    q = '"' if (b"'" in s and b'"' not in s) else "'"
    o = [q]
    for b in s:
        c = chr(b)
        if c == '\\\\': o.append('\\\\\\\\')
        elif c == q: o.append('\\\\' + c)
        elif c == '\\n': o.append('\\\\n')
        elif c == '\\t': o.append('\\\\t')
        elif c == '\\r': o.append('\\\\r')
        elif 32 <= b < 127: o.append(c)
        else: o.append('\\\\x%02x' % b)
    o.append(q)
    return ''.join(o)
print('[' + ', '.join(r(os.fsencode(a)) for a in sys.argv[1:]) + ']')
""",
    "printenv.py": """
for n in sys.argv[1:]:
    print(os.environ.get(n, 'None'))
""",
    "stdout_stderr.py": """
print('STDOUT'); sys.stdout.flush(); print('STDERR', file=sys.stderr)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 0)
""",
}


def _limits() -> None:
    """Child-side caps so a runaway case (`cat /dev/zero`, `yes > f`) can't exhaust the host."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (2000, 2000))


def _run(
    argv: list[str], stdin: bytes, cwd: str, env: dict[str, str], timeout: float
) -> tuple[bytes, int]:
    """Own session, stdout to a file (never an unbounded pipe); the group is killed at the end."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_limits,
        )
        try:
            p.communicate(stdin, timeout=timeout)
            status = p.returncode
        except subprocess.TimeoutExpired:
            status = -1
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        out.seek(0)
        return out.read(1 << 22), status


def keys(names: list[str]) -> list[str]:
    """Stable per-file case keys: the name, plus ` #k` for a name's k-th repeat."""
    seen: Counter[str] = Counter()
    res = []
    for n in names:
        n = n.replace("\n", " ").replace("\t", " ")
        seen[n] += 1
        res.append(n if seen[n] == 1 else f"{n} #{seen[n]}")
    return res


def bash_oils_file(path: Path) -> tuple[int, list[str]]:
    cases = oils.parse_file(path)
    names = keys([c.name for c in cases])
    passed = []
    for key, case in zip(names, cases, strict=True):
        tmp = tempfile.mkdtemp(prefix="oils-ref-")
        try:
            os.makedirs(os.path.join(tmp, "_tmp", "spec-tmp"))
            bindir = os.path.join(tmp, "spec", "bin")
            os.makedirs(bindir)
            for name, body in _HELPERS.items():
                f = os.path.join(bindir, name)
                Path(f).write_text(f"#!{sys.executable}\nimport os, sys\n{body}")
                os.chmod(f, 0o755)
            env = {
                "SH": "bash",
                "TMP": tmp,
                "PATH": f"{bindir}:/usr/bin:/bin",
                "HOME": tmp,
                "REPO_ROOT": tmp,
                "USER": "root",
                # bash counts characters, not bytes, only in a UTF-8 locale; our shell always does
                "LC_ALL": "C.UTF-8",
            }
            out, status = _run(
                [BASH], case.code.encode("utf-8", "surrogateescape"), tmp, env, CASE_SECONDS
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        stdout = out.decode("utf-8", "replace")
        if stdout == case.expect.get("stdout", "") and status == case.expect.get("status", 0):
            passed.append(key)
    return len(cases), passed


# The same prelude as tests/shell/test_toybox.py, with the case runner written in bash:
# each case runs in a background subshell (its own process group under `set -m`) that a
# watchdog kills after the same per-case time our runner allows.
_TOYBOX_PRELUDE = r"""
set -m
toyonly() { :; }
optional() { :; }
skipnot() { eval "$@" >/dev/null 2>&1 || SKIPNEXT=1; }
testing() { if [ -n "$SKIPNEXT" ]; then SKIPNEXT=; return 0; fi; __toybox_case "$@"; }
testcmd() { if [ -n "$SKIPNEXT" ]; then SKIPNEXT=; return 0; fi
  __toybox_case "$1" "$CMDNAME $2" "$3" "$4" "$5"; }
__toybox_case() {
  local __ok=0 __pid __wd
  if [[ $2 =~ \<[[:space:]]*/dev/(zero|u?random) ]]; then
    printf '0\t%s\n' "${1//[$'\n\t']/ }" >> "$__REF/results"; return 0
  fi
  if [ -n "$4" ]; then printf %b "$4" > input; else rm -f input; fi
  printf %b "$5" > "$__REF/stdin"
  printf %b "$3" > "$__REF/expected"
  ( eval "$2" ) < "$__REF/stdin" > "$__REF/out" 2>/dev/null &
  __pid=$!
  ( sleep __SECONDS__; kill -9 -$__pid ) >/dev/null 2>&1 &
  __wd=$!
  wait $__pid 2>/dev/null
  kill -9 -$__wd 2>/dev/null
  wait $__wd 2>/dev/null
  cmp -s "$__REF/out" "$__REF/expected" && __ok=1
  printf '%s\t%s\n' "$__ok" "${1//[$'\n\t']/ }" >> "$__REF/results"
  return 0
}
"""


def gnu_toybox_file(stem: str) -> tuple[int, list[str]]:
    from . import test_toybox as t

    src = (t.CORPUS / f"{stem}.test").read_text(encoding="utf-8", errors="surrogateescape")
    tmp = tempfile.mkdtemp(prefix=f"toybox-ref-{stem}-")
    ref = tempfile.mkdtemp(prefix="toybox-ref-out-")
    try:
        env = {
            "HOME": tmp,
            "PATH": "/usr/bin:/bin",
            "FILES": str(t.CORPUS / "files"),
            "CMDNAME": stem,
            "C": stem,
            "LANG": "C.UTF-8",
            "USER": "root",
            "__REF": ref,
        }
        prelude = _TOYBOX_PRELUDE.replace("__SECONDS__", str(t.CASE_SECONDS))
        script = os.path.join(ref, "script.sh")
        Path(script).write_text(prelude + "\n" + src, encoding="utf-8", errors="surrogateescape")
        _run([BASH, script], b"", tmp, env, 300.0)
        res = os.path.join(ref, "results")
        lines = Path(res).read_text(errors="replace").splitlines() if os.path.exists(res) else []
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", tmp], check=False, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(ref, ignore_errors=True)
    pairs = [ln.split("\t", 1) for ln in lines if "\t" in ln]
    names = keys([n for _, n in pairs])
    return len(pairs), [k for k, (ok, _) in zip(names, pairs, strict=True) if ok == "1"]


def ours_oils_file(path: Path) -> dict[str, bool]:
    cases = oils.parse_file(path)
    return {
        k: oils.run_case(c)[0] for k, c in zip(keys([c.name for c in cases]), cases, strict=True)
    }


def ours_toybox_file(stem: str) -> dict[str, bool]:
    from . import test_toybox as t

    t.run_file(stem)
    res = list(t.RESULTS)
    return dict(zip(keys([n for n, _ in res]), [ok for _, ok in res], strict=True))


def _write_ref(path: Path, data: dict[str, tuple[int, list[str]]]) -> None:
    path.write_text(
        json.dumps({k: {"cases": n, "pass": p} for k, (n, p) in sorted(data.items())}, indent=1)
        + "\n"
    )


def build_bash() -> None:
    data = {}
    for f in sorted(oils.CORPUS.glob("*.test.sh")):
        data[f.name] = bash_oils_file(f)
        print(f"{f.name:32} {len(data[f.name][1]):4}/{data[f.name][0]}", flush=True)
    _write_ref(OILS_REF, data)


def build_gnu() -> None:
    from . import test_toybox as t

    data = {}
    for stem in t._files():
        data[stem] = gnu_toybox_file(stem)
        print(f"{stem:16} {len(data[stem][1]):4}/{data[stem][0]}", flush=True)
    _write_ref(TOYBOX_REF, data)


Row = tuple[str, int, int, int, int]  # file, cases, reference passes, we pass all, we pass of ref


def compare(corpus: str, only: list[str] | None = None) -> list[Row]:
    """Run the sandbox shell over a corpus; per file, how many reference-passing cases we pass."""
    ref = json.loads((OILS_REF if corpus == "oils" else TOYBOX_REF).read_text())
    rows = []
    lim = sys.getrecursionlimit()
    sys.setrecursionlimit(max(lim, 5000))
    for name in sorted(ref):
        if only and not any(o in name for o in only):
            continue
        ours = ours_oils_file(oils.CORPUS / name) if corpus == "oils" else ours_toybox_file(name)
        refpass = set(ref[name]["pass"])
        rows.append(
            (
                name,
                ref[name]["cases"],
                len(refpass),
                sum(ours.values()),
                sum(1 for k in refpass if ours.get(k)),
            )
        )
    sys.setrecursionlimit(lim)
    return rows


def table(rows: list[Row], label: str) -> str:
    out = [
        f"| file | cases | {label} passes | we pass | we pass of {label}'s | % of {label}'s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, n, r, w, wr in rows:
        out.append(f"| {name} | {n} | {r} | {w} | {wr} | {100 * wr / r if r else 100:.0f}% |")
    n, r, w, wr = (sum(x[i] for x in rows) for i in range(1, 5))
    out.append(f"| **total** | {n} | {r} | {w} | {wr} | **{100 * wr / r if r else 100:.1f}%** |")
    return "\n".join(out) + "\n"


def _replace(doc: str, marker: str, body: str) -> str:
    pat = re.compile(rf"(<!-- {marker} -->\n).*?(<!-- /{marker} -->)", re.S)
    return pat.sub(lambda m: m.group(1) + body + m.group(2), doc)


def main(argv: list[str]) -> None:
    what = argv[0] if argv else "table"
    if what == "bash":
        build_bash()
    elif what == "gnu":
        build_gnu()
    elif what in ("table", "oils", "toybox"):
        only = [a for a in argv[1:] if not a.startswith("--")]
        tables = {}
        for corpus, label in (("oils", "bash"), ("toybox", "GNU")):
            if what in ("table", corpus):
                rows = compare(corpus, only)
                worst = sorted(rows, key=lambda x: x[4] - x[2])[:12]
                tables[corpus] = table(rows, label)
                print(tables[corpus])
                print("biggest gaps:", ", ".join(f"{x[0]} -{x[2] - x[4]}" for x in worst))
        if "--write" in argv and not only:
            doc = DOC.read_text()
            for corpus, body in tables.items():
                doc = _replace(doc, f"{corpus}-table", body)
            DOC.write_text(doc)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
