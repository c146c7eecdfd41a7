"""Focused behaviour tests for the in-process shell (run on host CPython, each in a tmp cwd)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandlot.guest.shell import Shell


@pytest.fixture(autouse=True)
def _keep_cwd() -> object:
    old = os.getcwd()
    yield
    os.chdir(old)


def run(
    script: str, tmp_path: Path, stdin: bytes = b"", shell: Shell | None = None
) -> tuple[str, str, int]:
    sh = shell or Shell(
        cwd=str(tmp_path), env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=10
    )
    out: list[bytes] = []
    err: list[bytes] = []
    st = sh.run(script, stdin=stdin, out=out.append, err=err.append)
    return b"".join(out).decode(), b"".join(err).decode(), st


def o(script: str, tmp_path: Path, stdin: bytes = b"") -> str:
    return run(script, tmp_path, stdin)[0]


def test_echo_and_status(tmp_path: Path) -> None:
    assert run("echo hi; false", tmp_path) == ("hi\n", "", 1)


def test_quoting(tmp_path: Path) -> None:
    assert o("""x='a  b'; echo "$x" $x '$x' \\$x $'t\\tab'""", tmp_path) == "a  b a b $x $x t\tab\n"


def test_pipeline_streams_awk(tmp_path: Path) -> None:
    assert o("yes | head -n 2", tmp_path) == "y\ny\n"
    assert o("seq 1 100000 | awk '$1 % 7 == 0' | wc -l", tmp_path) == "14285\n"


def test_pipestatus_and_pipefail(tmp_path: Path) -> None:
    assert (
        o("false | true; echo ${PIPESTATUS[@]}; set -o pipefail; false | true; echo $?", tmp_path)
        == "1 0\n1\n"
    )


def test_control_flow(tmp_path: Path) -> None:
    script = """
for i in 1 2 3; do
  if [ $i -eq 2 ]; then continue; fi
  echo $i
done
n=0; while (( n < 3 )); do n=$((n+1)); done; echo $n
case abc in a*) echo A;; *) echo B;; esac
for ((i=0; i<2; i++)); do echo c$i; done
"""
    assert o(script, tmp_path) == "1\n3\n3\nA\nc0\nc1\n"


def test_functions_and_locals(tmp_path: Path) -> None:
    assert (
        o("x=g; f() { local x=l; echo $x $1; return 4; }; f arg; echo $? $x", tmp_path)
        == "l arg\n4 g\n"
    )


def test_param_ops(tmp_path: Path) -> None:
    s = (
        "p=/a/b/c.tar.gz; echo ${p##*/} ${p%.*} ${p%%.*} ${p#/} ${#p} ${p/a/X} "
        "${p//\\//_} ${p:1:3} ${u:-d} ${p^^}"
    )
    assert o(s, tmp_path) == (
        "c.tar.gz /a/b/c.tar /a/b/c a/b/c.tar.gz 13 /X/b/c.tar.gz _a_b_c.tar.gz a/b d "
        "/A/B/C.TAR.GZ\n"
    )


def test_arith(tmp_path: Path) -> None:
    assert (
        o(
            "echo $(( (1+2)*3 % 5 )) $((2**10)) $((7/2)) $((1<<4)) $((x=5, x+1)) $((16#ff))",
            tmp_path,
        )
        == "4 1024 3 16 6 255\n"
    )


def test_arrays(tmp_path: Path) -> None:
    s = (
        'a=(x "y z"); a+=(w); echo ${#a[@]} "${a[1]}" ${!a[@]}; '
        "declare -A m=([k]=v); m[j]=u; echo ${m[k]}${m[j]}"
    )
    assert o(s, tmp_path) == "3 y z 0 1 2\nvu\n"


def test_heredoc_and_herestring(tmp_path: Path) -> None:
    s = "x=1\ncat <<EOF\nv=$x\nEOF\ncat <<'EOF'\nv=$x\nEOF\ncat <<< \"hs $x\"\n"
    assert o(s, tmp_path) == "v=1\nv=$x\nhs 1\n"


def test_redirections(tmp_path: Path) -> None:
    out, err, st = run(
        "echo a > f; echo b >> f; cat f; ls nope 2>&1 | wc -l; cat < f | head -1", tmp_path
    )
    assert out == "a\nb\n1\na\n"
    assert (tmp_path / "f").read_text() == "a\nb\n"


def test_persistent_state(tmp_path: Path) -> None:
    sh = Shell(cwd=str(tmp_path))
    run("x=5; f() { echo f$x; }; alias ll='echo LL'; mkdir d; cd d", tmp_path, shell=sh)
    assert run("f; ll; pwd", tmp_path, shell=sh)[0] == f"f5\nLL\n{tmp_path}/d\n"


def test_syntax_error(tmp_path: Path) -> None:
    out, err, st = run("echo ok\nif then", tmp_path)
    assert out == "ok\n" and st == 2 and "syntax error near unexpected token `then'" in err


def test_errexit(tmp_path: Path) -> None:
    assert run("set -e; echo a; false; echo b", tmp_path)[:3:2] == ("a\n", 1)


def test_dbracket_regex(tmp_path: Path) -> None:
    assert o('[[ "ab12" =~ ^([a-z]+)([0-9]+)$ ]] && echo ${BASH_REMATCH[2]}', tmp_path) == "12\n"


def test_glob_and_brace(tmp_path: Path) -> None:
    assert (
        o("touch b.txt a.txt c.log; echo *.txt; echo {1..3} x{a,b}", tmp_path)
        == "a.txt b.txt\n1 2 3 xa xb\n"
    )


def test_infinite_loop_is_stopped(tmp_path: Path) -> None:
    from sandlot.guest.shell import BudgetExceeded

    sh = Shell(cwd=str(tmp_path), timeout=0.5)
    with pytest.raises(BudgetExceeded):
        sh.run("while true; do :; done", out=lambda b: None, err=lambda b: None)


def test_python_and_linux_only(tmp_path: Path) -> None:
    out, err, st = run("python3 -c 'print(1)'", tmp_path)
    assert st == 127 and "not available" in err
    sh = Shell(cwd=str(tmp_path), python_runner=lambda argv, stdin, out, err: (out(b"py\n"), 0)[1])
    assert run("python3 x.py", tmp_path, shell=sh)[0] == "py\n"


def test_text_commands(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("name,qty\nb,2\na,5\nc,1\n")
    s = """
tail -n +2 data.csv | sort -t, -k2 -n | cut -d, -f1 | tr '\\n' ' '; echo
awk -F, 'NR > 1 {s += $2} END {print s}' data.csv
grep -c , data.csv; grep -n '^a' data.csv; grep -v , data.csv || echo none
sed -n '2,3p' data.csv | sed 's/,/=/'
printf 'x\\nx\\ny\\n' | uniq -c | awk '{print $1 $2}'
seq 3 | paste -sd+
echo hello | rev; seq 3 | tac | head -1; printf 'a b\\n' | wc -w
echo -n abc | md5sum; echo aGk= | base64 -d; echo
"""
    assert o(s, tmp_path) == (
        "c b a \n8\n4\n3:a,5\nnone\nb=2\na=5\n2x\n1y\n1+2+3\nolleh\n3\n2\n"
        "900150983cd24fb0d6963f7d28e17f72  -\nhi\n"
    )


def test_file_commands(tmp_path: Path) -> None:
    s = """
mkdir -p a/b && touch a/x.py a/b/y.py a/b/z.txt
find a -name '*.py' | sort
find a -type d | sort | tr '\\n' ' '; echo
find a -name '*.txt' -exec cat {} \\; -print
cp -r a c && mv c/x.py c/moved.py && ls c | tr '\\n' ' '; echo
rm -r c; test -e c || echo gone
ls a/b/*.py | xargs -n1 basename
echo a/b/y.py | xargs dirname
ln -s a/x.py link && readlink link
shopt -s globstar; echo **/*.py
diff <(printf '1\\n2\\n') <(printf '1\\n3\\n')
"""
    assert o(s, tmp_path) == (
        "a/b/y.py\na/x.py\na a/b \na/b/z.txt\nb moved.py \ngone\ny.py\na/b\na/x.py\n"
        "a/b/y.py a/x.py\n2c2\n< 2\n---\n> 3\n"
    )


def test_exec_redirections_and_fds(tmp_path: Path) -> None:
    s = (
        "exec 3> log.txt; echo one >&3; echo two >&3; exec 3>&-; cat log.txt; "
        "{ echo o; echo e >&2; } 2>&1 | sort"
    )
    assert o(s, tmp_path) == "one\ntwo\ne\no\n"


def test_read_loop_and_ifs(tmp_path: Path) -> None:
    s = (
        'printf "a:1\\nb:2\\n" | while IFS=: read -r k v; do echo "$v=$k"; done; '
        'IFS=, read -ra xs <<< "p,q r"; echo ${#xs[@]} "${xs[1]}"'
    )
    assert o(s, tmp_path) == "1=a\n2=b\n2 q r\n"


def test_error_messages(tmp_path: Path) -> None:
    out, err, st = run(
        "cd /nonexistent-dir; echo $?; nosuchcmd; echo $?; pip install x; echo $?", tmp_path
    )
    assert out == "1\n127\n127\n"
    assert "bash: line 1: cd: /nonexistent-dir: No such file or directory" in err
    assert "nosuchcmd: command not found" in err
    assert "requires a Linux tier" in err


def test_set_options(tmp_path: Path) -> None:
    out, err, st = run("set -euo pipefail; echo $-; false | true; echo unreachable", tmp_path)
    assert out == "ehuB\n" and st == 1
    out, err, st = run("set -u; echo $undefined_var; echo no", tmp_path)
    assert out == "" and "undefined_var: unbound variable" in err and st == 1
    out, err, st = run("set -x; echo hi", tmp_path)
    assert err == "+ echo hi\n"


def test_nested_shell_and_traps(tmp_path: Path) -> None:
    s = "bash -c 'echo in $0 $1; exit 4' zero one; echo rc=$?; (trap 'echo bye' EXIT; echo sub)"
    assert o(s, tmp_path) == "in zero one\nrc=4\nsub\nbye\n"


def test_functions_shadow_special_builtins(tmp_path: Path) -> None:
    # bash (not --posix): `:(){ …; }; :` calls the function; prefix assignments stay temporary
    assert o(":(){ echo hi; }; :", tmp_path) == "hi\n"
    assert o('x=1 :; echo "[$x]"', tmp_path) == "[]\n"


def test_find_expression_and_fifo(tmp_path: Path) -> None:
    script = (
        "mkdir d; touch d/f; mkfifo d/p; chmod 0444 d/f; "
        "find d -type l -o -type p; find d -perm -0600; find d -perm 0444 -printf '%f %m\\n'; "
        "grep -r x d; echo done"
    )
    assert o(script, tmp_path) == "d/p\nd\nd/p\nf 444\ndone\n"


def test_touch_and_date_parse(tmp_path: Path) -> None:
    script = (
        "touch -d 2009-02-13T23:31:30.123456789Z f && date -r f +%s.%N; "
        "TZ=UTC date -d '2020-08-01T12:34:56+08:00'; touch -t 200109090146.40 g; "
        "TZ=UTC touch -t 200109090146.40 g && TZ=UTC date -r g +%s"
    )
    assert o(script, tmp_path) == (
        "1234567890.123456789\nSat Aug  1 04:34:56 UTC 2020\n1000000000\n"
    )


def test_tilde_in_assignments(tmp_path: Path) -> None:
    # after the `=` and each `:` of an assignment word (also a[k]=, ${x-…} in the value)
    script = (
        "HOME=/h; x=foo:~; echo $x; echo a=x:~ foo:~; declare -A A; A['k']=v:~; echo ${A[k]}; "
        'x=~:${u-~:~}; echo $x; x=a=~; echo $x; x=~"/a"; echo $x; xx=~:~ printenv xx'
    )
    assert o(script, tmp_path) == ("foo:/h\na=x:/h foo:~\nv:/h\n/h:/h:/h\na=~\n~/a\n/h:/h\n")


def test_negative_and_sparse_array_indexes(tmp_path: Path) -> None:
    script = (
        'a=(0 1 2 3 4); unset "a[1]" "a[4]"; echo "[${a[-5]}]" ${a[-1]}; a[-1]+=0; '
        'echo ${a[@]}; echo "${a[@]:1:2}"; b=(); b[-1]=x; echo st=$?'
    )
    out, err, st = run(script, tmp_path)
    assert (out, st) == ("[] 3\n0 2 30\n2 30\n", 1)
    assert "bad array subscript" in err


def test_expansion_error_abandons_the_top_level_command(tmp_path: Path) -> None:
    # bash: a bad substitution ends the current line's list, not the script; ${x?} exits
    script = (
        "f() { echo ${a b}; echo no; }\nf; echo no\necho st=$?\n"
        'eval "echo \\${#a[0]/1/x}; echo no"; echo st=$?\n'
        "a[0]=(1 2); echo no\necho st=$?\necho ${u?gone}\necho no\n"
    )
    out, err, st = run(script, tmp_path)
    assert (out, st) == ("st=1\nst=1\nst=1\n", 1)
    assert err.count("bad substitution") == 2 and "cannot assign list" in err


def test_syntax_errors_of_misplaced_parens(tmp_path: Path) -> None:
    for s in ("a= (1 2)", "echo hi (echo x)", "ls foo=(1 2)", "(echo a) (echo b)"):
        out, err, st = run(s, tmp_path)
        assert (out, st) == ("", 2) and "unexpected token `('" in err, s
    assert o("A=a B=(b b) printenv A B", tmp_path) == "a\n(b b)\n"


def test_array_op_tests_and_empty_elements(tmp_path: Path) -> None:
    script = (
        'e=(); printf "[%s]" "${e[@]+plus}" "${e[*]+plus}"; echo; '
        'IFS=; a=("" ""); printf "<%s>" ${a[*]} ${a[@]} ${a[*]:-e} "${a[*]:-e}" "${a[@]:-e}"; '
        'echo; IFS=" "; a=("a " "b" "" " c"); printf "<%s>" ${a[@]} x${a[@]}y; echo; '
        'set -u; echo "${undef[@]}" ok'
    )
    assert o(script, tmp_path) == "[]\n<e><><>\n<a><b><c><xa><b><cy>\nok\n"


def test_unquoted_multi_word_expansions_join_by_ifs(tmp_path: Path) -> None:
    script = (
        'IFS=x; set -- "" "" ""; printf "<%s>" =$@= $*; echo; a=(p "" q ""); '
        'printf "<%s>" ${a[@]}; echo; IFS=:; set -- x "y z"; s=$*; t=$@; echo "$s|$t"; '
        "IFS=; a=(v w); printf '<%s>' ${!a[*]} ${a[*]}; echo"
    )
    assert o(script, tmp_path) == "<=><><=><><>\n<p><><q>\nx:y z|x y z\n<0 1><v><w>\n"


def test_break_continue_arguments_and_for_names(tmp_path: Path) -> None:
    script = (
        "for i in 1 2; do continue 1 2; echo no; done; echo st=$?\n"
        "for i in 1 2; do false; break; done; echo st=$?\n"
        "for - in a; do echo no; done; echo no\necho st=$?\n"
        "while :; do break x; echo no; done; echo no\n"
    )
    out, err, st = run(script, tmp_path)
    assert (out, st) == ("st=1\nst=0\nst=1\n", 128)
    assert "too many arguments" in err and "`-': not a valid identifier" in err


def test_hash_table_remembers_command_paths(tmp_path: Path) -> None:
    script = (
        'PATH="one:two:/usr/bin"; mkdir one two; echo "echo two" > two/c; chmod +x two/c; c; '
        'echo "echo one" > one/c; chmod +x one/c; c; hash -r; c; rm one/c; c; echo st=$?; '
        "hash -r; cat </dev/null; hash cat; hash; hash -t cat; hash nope; echo st=$?; "
        "PATH=/bin; hash; ./one; echo st=$?"
    )
    out, err, st = run(script, tmp_path)
    assert out == (
        "two\ntwo\none\nst=127\nhits\tcommand\n   0\t/usr/bin/cat\n/usr/bin/cat\nst=1\n"
        "hash: hash table empty\nst=126\n"
    )
    assert "one/c: No such file or directory" in err and "./one: Is a directory" in err


def test_named_file_descriptors(tmp_path: Path) -> None:
    script = (
        "exec {fd}>f; echo $fd; echo foo >&$fd; exec {fd}>&-; echo bar >&$fd; cat f; "
        "exec {a}>g {b}>h; echo $a $b; echo {x}y"
    )
    assert o(script, tmp_path) == "10\nfoo\n10 11\n{x}y\n"


def test_tilde_in_dbracket_and_empty_home(tmp_path: Path) -> None:
    script = (
        "HOME='^a$'; [[ $HOME =~ ~ ]] && echo lit; [[ a =~ ~ ]] || echo nore; "
        "HOME=''; [[ ~ ]] || echo empty; [[ $HOME == ~ ]] && echo same"
    )
    assert o(script, tmp_path) == "lit\nnore\nempty\nsame\n"


def test_extglob_off_by_default_like_bash(tmp_path: Path) -> None:
    for n in ("a", "b"):
        (tmp_path / n).touch()
    # unquoted `@(` is a syntax error until `shopt -s extglob` ran on an earlier line
    out, err, st = run("echo @(a|b)", tmp_path)
    assert (out, st) == ("", 2) and "unexpected token `('" in err
    assert run("shopt extglob", tmp_path) == ("extglob        \toff\n", "", 1)
    assert o("shopt -s extglob\necho @(a|b) +(a)", tmp_path) == "a b a\n"
    # off: a group from a variable or inside ${…} is literal text; [[ ]] always has extglob
    assert o('p="@(a|b)"; echo $p; case a in $p) echo y;; *) echo n;; esac', tmp_path) == (
        "@(a|b)\nn\n"
    )
    assert o('p="@(a)"; case "@(a)" in $p) echo y;; esac', tmp_path) == "y\n"
    assert o("f=abc; echo ${f/@(b)/X} ${f#@(a)}", tmp_path) == "abc abc\n"
    assert o('p="@(a|b)"; [[ a == $p && b == !(a) ]] && echo y', tmp_path) == "y\n"
    assert o("shopt -s extglob\nf=abc; echo ${f/@(b)/X}", tmp_path) == "aXc\n"


def test_bash_syntax_corners(tmp_path: Path) -> None:
    # $[…] is old arithmetic; `+++x` is `+ ++x` and `--5` is `-(-5)`, as bash tokenizes them
    assert o('x=1; echo $[1+2] "$[x*3]" $((+++x)) $x $((--5)) $((---x)) $x', tmp_path) == (
        "3 3 2 2 5 -1 1\n"
    )
    # `!` alone is a pipeline that fails; `((cmd) )` is a subshell in a subshell
    assert o("!; echo $?; ((echo hello) )", tmp_path) == "1\nhello\n"
    assert o("echo $UID $EUID $(id -ur)", tmp_path) == "0 0 0\n"
    # $(<file) is the file's text; a missing file is status 1 with bash's message
    out, err, _ = run('echo boing > f; echo -n $(<f); x=$(< nofile); echo " $?"', tmp_path)
    assert (out, err) == ("boing 1\n", "bash: nofile: No such file or directory\n")
    out, err, _ = run("printf -v 'a[' %s x; echo $?", tmp_path)
    assert (out, err) == ("2\n", "bash: line 1: printf: `a[': not a valid identifier\n")


def test_unset_array_at_is_no_word_and_read_options(tmp_path: Path) -> None:
    script = (
        'set -- "${nope[@]}"; echo $#; set -- "${nope[@]}" x "a${nope[@]}b" "${nope[*]}"; echo $#'
    )
    assert o(script, tmp_path) == "0\n3\n"
    # read -N puts everything in the first name; read -t 0 only asks whether input is there
    assert o("echo 'a b c' | { read -N 4 A B; echo \"[$A][$B]\"; }", tmp_path) == "[a b ][]\n"
    assert o('echo foo | { read -t 0; echo $? "[$REPLY]"; }', tmp_path) == "0 []\n"
