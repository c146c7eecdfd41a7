"""Bash behaviours the bash suite exposed, each a script run as `bash ./t.sh`, stdout and stderr
merged; the expected text is bash 5.2's, and where the host has that bash it is checked too."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sandlot.guest.shell import Shell

CASES: dict[str, tuple[str, str]] = {
    # diagnostics name the script and line, as `bash file` does
    "error_prefix": (
        "echo hi\nnosuchcmd\ncd /nonexistent\n",
        "hi\n./t.sh: line 2: nosuchcmd: command not found\n"
        "./t.sh: line 3: cd: /nonexistent: No such file or directory\n",
    ),
    # a bad token: the message, then the line it is on; the script ends with status 2
    "syntax_error_line": (
        "echo a\nfi\necho b\n",
        "a\n./t.sh: line 2: syntax error near unexpected token `fi'\n./t.sh: line 2: `fi'\n",
    ),
    "eval_syntax_error": (
        'eval "echo a; fi"\necho $?\n',
        "./t.sh: eval: line 1: syntax error near unexpected token `fi'\n"
        "./t.sh: eval: line 1: `echo a; fi'\n2\n",
    ),
    # in an array literal a bad token is reported when it runs; the next line still runs
    "array_literal_bad_token": (
        "test=(first & second)\necho $?\n",
        "./t.sh: line 1: syntax error near unexpected token `&'\n"
        "./t.sh: line 1: `test=(first & second)'\n1\n",
    ),
    # builtins refuse unknown options with the error and their synopsis, status 2
    "invalid_option_usage": (
        "alias -x a=b; echo $?\nunset -x v; echo $?\nread -z; echo $?\nset -z; echo $?\n",
        "./t.sh: line 1: alias: -x: invalid option\nalias: usage: alias [-p] [name[=value] ... ]\n"
        "2\n./t.sh: line 2: unset: -x: invalid option\n"
        "unset: usage: unset [-f] [-v] [-n] [name ...]\n2\n"
        "./t.sh: line 3: read: -z: invalid option\n"
        "read: usage: read [-ers] [-a array] [-d delim] [-i text] [-n nchars] [-N nchars] "
        "[-p prompt] [-t timeout] [-u fd] [name ...]\n2\n"
        "./t.sh: line 4: set: -z: invalid option\n"
        "set: usage: set [-abefhkmnptuvxBCEHPT] [-o option-name] [--] [-] [arg ...]\n2\n",
    ),
    # set -o / set +o list every option, sorted; shopt -p prints reusable commands
    "set_o_listing": (
        "set -o | head -3\nset +o | tail -2\nset -o posix; echo $?\nset -o nosuch\n",
        "allexport      \toff\nbraceexpand    \ton\nemacs          \toff\n"
        "set +o vi\nset +o xtrace\n0\n./t.sh: line 4: set: nosuch: invalid option name\n",
    ),
    "shopt_forms": (
        "shopt -p nullglob\nshopt -s nullglob; shopt nullglob\nshopt -o -p errexit\n"
        "shopt -q nosuch; echo $?\nshopt -u | head -2\nshopt -z\n",
        "shopt -u nullglob\nnullglob       \ton\nset +o errexit\n"
        "./t.sh: line 4: shopt: nosuch: invalid shell option name\n1\n"
        "autocd         \toff\nassoc_expand_once\toff\n"
        "./t.sh: line 6: shopt: -z: invalid option\n"
        "shopt: usage: shopt [-pqsu] [-o] [optname ...]\n",
    ),
    # $- shows every single-letter option that is on
    "dollar_dash": ("echo $-\nset -eu; echo $-\nset +eu -k; echo $-\n", "hB\nehuB\nhkB\n"),
    # redirection errors carry the line; `<&` of a non-number is ambiguous
    "redirection_errors": (
        "set -C\necho a > f\necho b > f\necho $?\nfd=-1\nexec <&$fd\necho $?\n",
        "./t.sh: line 3: f: cannot overwrite existing file\n1\n"
        "./t.sh: line 6: -1: ambiguous redirect\n1\n",
    ),
    # quotes inside arithmetic are removed and what they held is an expression
    "arith_quoted": (
        'for (( i=0; "i < 2"; i++ )); do echo $i; done\necho $(("1+2"*3))\n',
        "0\n1\n7\n",
    ),
    # a bare `{` in ${x-word} does not nest: the first `}` ends the expansion
    "param_word_braces": ("echo ${IFS+a{b}c}\necho ${u:-x{}y}\n", "a{bc}\nx{y}\n"),
    # printf: a trailing backslash stays; a width past int range is refused
    # a loop variable that is no name is an error at the loop's last line; the script goes on
    "for_bad_name": (
        "for 1 in a b\ndo\n  echo $1\ndone\nfor f\\1 in a; do echo; done\necho $?\n",
        "./t.sh: line 4: `1': not a valid identifier\n"
        "./t.sh: line 5: `f\\1': not a valid identifier\n1\n",
    ),
    # select: the menu and PS3 go to stderr, REPLY is the line read, EOF ends the loop
    "select_menu": (
        "printf '2\\n\\n9\\n' > in\n"
        'select x in a b; do echo "got $x $REPLY"; done < in\necho st=$?\n',
        "1) a\n2) b\n#? got b 2\n#? 1) a\n2) b\n#? got  9\n#? \nst=1\n",
    ),
    # namerefs: reads, writes, arrays and elements go to the variable named; +n, unset -n
    "namerefs": (
        "foo=bar; bar=one\n"
        "declare -n ref=foo\n"
        "echo $ref\n"
        "ref=two\n"
        "echo $foo\n"
        "declare -p ref foo\n"
        "echo ${!ref}\n"
        'f() { local -n r=$1; r=changed; echo "in f: ${#r}"; }\n'
        "x=orig; f x; echo $x\n"
        "arr=(a b c); declare -n e=arr; echo ${e[1]} ${#e[@]}; e[1]=B; echo ${arr[*]}\n"
        "declare -n el=arr[2]; echo $el; el=C; echo ${arr[*]}\n"
        "declare +n ref; echo $ref; declare -p ref\n"
        "declare -n q=1\n"
        "declare -n s=s\n"
        "unset -n e; echo ${arr[0]}; declare -p e\n"
        'declare -n u=foo; unset u; echo "foo=${foo-unset}"\n',
        "bar\n"
        "two\n"
        'declare -n ref="foo"\n'
        'declare -- foo="two"\n'
        "foo\n"
        "in f: 7\n"
        "changed\n"
        "b 3\n"
        "a B c\n"
        "c\n"
        "a B C\n"
        "foo\n"
        'declare -- ref="foo"\n'
        "./t.sh: line 13: declare: `1': invalid variable name for name reference\n"
        "./t.sh: line 14: declare: s: nameref variable self references not allowed\n"
        "a\n"
        "./t.sh: line 15: declare: e: not found\n"
        "foo=unset\n",
    ),
    "nameref_for_loop": (
        'declare -n r\nfor r in a b; do echo "$r ${!r}"; done\n'
        "a=1 b=2\nfor r in a b; do echo $r; done\n",
        " a\n b\n1\n2\n",
    ),
    # FUNCNAME, BASH_SOURCE and BASH_LINENO: one entry per active call, `main` at the bottom
    "call_stack_arrays": (
        'f() { echo "${FUNCNAME[@]} / ${BASH_SOURCE[@]} / ${BASH_LINENO[@]} / $FUNCNAME"; g; }\n'
        'g() { echo "${FUNCNAME[*]} ${BASH_LINENO[*]} ${!FUNCNAME[*]}"; }\n'
        'f\necho "${FUNCNAME[@]}x ${BASH_SOURCE[0]} ${BASH_LINENO[0]}"\n'
        "h() { declare -p FUNCNAME BASH_LINENO; }; h\n",
        "f main / ./t.sh ./t.sh / 3 0 / f\ng f main 1 3 0 0 1 2\nx ./t.sh 0\n"
        'declare -a FUNCNAME=([0]="h" [1]="main")\ndeclare -a BASH_LINENO=([0]="5" [1]="0")\n',
    ),
    # `declare -a` / `-A` / `-r` alone list the variables with that attribute
    "declare_listing_by_attribute": (
        "a=(1 2); declare -A h=([k]=v); declare -r r=1; x=2\n"
        "declare -a | grep -v -e BASH_ -e FUNCNAME -e DIRSTACK -e GROUPS -e PIPESTATUS\n"
        "declare -A | grep -v BASH_\ndeclare -r | grep ' r='\n",
        'declare -a a=([0]="1" [1]="2")\ndeclare -A h=([k]="v" )\ndeclare -r r="1"\n',
    ),
    # break/continue take `--`; a count past the loops there are leaves them all
    "break_count": (
        "for i in 1; do break -- 5; done; echo $?\n"
        "for j in 1 2; do for i in 1; do continue 5; done; echo no; done; echo $?\n",
        "0\n0\n",
    ),
    # exec -a NAME hands the command another $0; -l puts a dash in front
    "exec_argv0": (
        "(exec -a specialname bash -c 'echo $0')\n(exec -l -a specialname bash -c 'echo $0')\n",
        "specialname\n-specialname\n",
    ),
    # trap -p: bash's order (EXIT, signals by number, then DEBUG ERR RETURN), SIG names,
    # the code always in single quotes; numbers name signals; a bad name is an error
    "trap_listing": (
        "trap 'echo r' RETURN; trap 'x' 15 HUP; trap \"echo 'a'\" EXIT; trap z sigint\n"
        "trap -p\necho --\ntrap -p INT EXIT\ntrap q FOO; echo $?\ntrap - 15; trap -p TERM\n"
        "trap - EXIT\n",
        "trap -- 'echo '\\''a'\\''' EXIT\ntrap -- 'x' SIGHUP\ntrap -- 'z' SIGINT\n"
        "trap -- 'x' SIGTERM\ntrap -- 'echo r' RETURN\n--\ntrap -- 'z' SIGINT\n"
        "trap -- 'echo '\\''a'\\''' EXIT\n"
        "./t.sh: line 5: trap: FOO: invalid signal specification\n1\n",
    ),
    # set -x traces compound commands too, prefix assignments, and expands PS4
    "xtrace_forms": (
        "set -x\nfor ((i=0; i<1; i++ )) ; do :; done\nfor i in a 'b c'; do :; done\n"
        "case x in *) ;; esac\nfoo=one true\nPS4='+${LINENO}: '\necho hi\n",
        "+ (( i=0 ))\n+ (( i<1 ))\n+ :\n+ (( i++  ))\n+ (( i<1 ))\n"
        "+ for i in a 'b c'\n+ :\n+ for i in a 'b c'\n+ :\n+ case x in\n"
        "+ foo=one\n+ true\n+ PS4='+${LINENO}: '\n+7: echo hi\nhi\n",
    ),
    "printf_corners": ("printf 'abc\\\\'; echo\nset ''; echo $#\n", "abc\\\n1\n"),
}


def _ours(script: str, tmp_path: Path) -> str:
    (tmp_path / "t.sh").write_text(script)
    out: list[bytes] = []
    Shell(cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}).run(
        "bash ./t.sh", out=out.append, err=out.append
    )
    return b"".join(out).decode()


def _host_bash_52() -> bool:
    bash = shutil.which("bash")
    if not bash:
        return False
    v = subprocess.run([bash, "-c", "echo $BASH_VERSION"], capture_output=True, text=True)
    return v.stdout.startswith("5.2")


@pytest.fixture(autouse=True)
def _keep_cwd() -> object:
    old = os.getcwd()
    yield
    os.chdir(old)


@pytest.mark.parametrize("name", sorted(CASES))
def test_like_bash(name: str, tmp_path: Path) -> None:
    script, expected = CASES[name]
    assert _ours(script, tmp_path) == expected


@pytest.mark.skipif(not _host_bash_52(), reason="needs the host's bash 5.2")
@pytest.mark.parametrize("name", sorted(CASES))
def test_expectations_are_bash(name: str, tmp_path: Path) -> None:
    script, expected = CASES[name]
    (tmp_path / "t.sh").write_text(script)
    done = subprocess.run(
        ["bash", "-c", "exec 2>&1; exec bash ./t.sh"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"},
    )
    assert done.stdout == expected
