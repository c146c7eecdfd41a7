"""Shell builtins: commands that must run inside the interpreter because they touch its state."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Generator
from typing import Any

from .expand import ExpansionError, shell_quote
from .io import Gen, Input
from .lexer import ParseError, is_name
from .options import SET_O, SHOPT, SHOPT_ORDER, is_on, listing
from .parser import Parser
from .printf import echo_escapes, printf_format
from .state import AbortCommand, BreakLoop, ContinueLoop, ExitShell, ReturnFn, Var

Builtin = Callable[[Any, list[str], Input], Gen]
BUILTINS: dict[str, Builtin] = {}
PY = {"python", "python3"}
SPECIAL = {
    "break",
    ":",
    ".",
    "continue",
    "eval",
    "exec",
    "exit",
    "export",
    "readonly",
    "return",
    "set",
    "shift",
    "trap",
    "unset",
    "source",
}


def enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def builtin(*names: str) -> Callable[[Builtin], Builtin]:
    def deco(f: Builtin) -> Builtin:
        for n in names:
            BUILTINS[n] = f
        return f

    return deco


def err(msg: str) -> tuple[int, bytes]:
    return (2, enc(f"bash: {msg}\n"))


@builtin(":", "true")
def b_true(sh: Any, args: list[str], inp: Input) -> Gen:
    return 0
    yield


@builtin("false")
def b_false(sh: Any, args: list[str], inp: Input) -> Gen:
    return 1
    yield


@builtin("echo")
def b_echo(sh: Any, args: list[str], inp: Input) -> Gen:
    newline, escapes = True, False
    i = 1
    while i < len(args) and re.fullmatch(r"-[neE]+", args[i]):
        for c in args[i][1:]:
            if c == "n":
                newline = False
            elif c == "e":
                escapes = True
            else:
                escapes = False
        i += 1
    text = " ".join(args[i:])
    if escapes:
        text, stop = echo_escapes(text)
        if stop:
            newline = False
    yield (1, enc(text + ("\n" if newline else "")))
    return 0


@builtin("printf")
def b_printf(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    var = None
    if a and a[0] == "-v":
        if len(a) < 2:
            yield err("printf: -v: option requires an argument")
            return 2
        var = a[1]
        a = a[2:]
        if not is_name(var.partition("[")[0]) or ("[" in var and not var.endswith("]")):
            yield err(f"printf: `{var}': not a valid identifier")
            return 2
    if a and a[0] == "--":
        a = a[1:]
    if not a:
        yield err("printf: usage: printf [-v var] format [arguments]")
        return 2
    errs: list[str] = []
    out = printf_format(a[0], a[1:], errs, sh.env().get("TZ"))
    for e in errs:
        yield err(e)
    if var:
        if "[" in var and var.endswith("]"):
            sh.set_elem(var[: var.index("[")], var[var.index("[") + 1 : -1], out)
        else:
            sh.set_var(var, out)
    elif out:
        yield (1, enc(out))
    return 1 if any(not e.startswith("printf: warning:") for e in errs) else 0


def _set_cwd(sh: Any, path: str) -> None:
    sh.set_var("OLDPWD", sh.cwd)
    sh.cwd = path
    sh.set_var("PWD", path)
    v = sh.lookup_var("PWD")
    if v is not None:
        v.attrs.add("x")
    if not sh.is_subshell:
        try:
            os.chdir(path)
        except OSError:
            pass


@builtin("cd")
def b_cd(sh: Any, args: list[str], inp: Input) -> Gen:
    a = [x for x in args[1:] if x not in ("-L", "-P", "--")]
    if len(a) > 1:
        yield err("cd: too many arguments")
        return 1
    if not a:
        target = sh.get_str("HOME") or "/"
    elif a[0] == "-":
        target = sh.get_str("OLDPWD") or sh.cwd
        yield (1, enc(target + "\n"))
    else:
        target = a[0]
    path = os.path.normpath(os.path.join(sh.cwd, target))
    if not os.path.isdir(path):
        reason = "Not a directory" if os.path.exists(path) else "No such file or directory"
        yield err(f"cd: {target}: {reason}")
        return 1
    _set_cwd(sh, path)
    return 0


@builtin("pwd")
def b_pwd(sh: Any, args: list[str], inp: Input) -> Gen:
    yield (1, enc((os.path.realpath(sh.cwd) if "-P" in args else sh.cwd) + "\n"))
    return 0


def _assign_arg(sh: Any, arg: str, attrs: str = "", local: bool = False) -> str | None:
    """Handle NAME[=VALUE] for export/declare/local/readonly; returns error text."""
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?=)?(.*)$", arg, re.S)
    if not m:
        return f"`{arg}': not a valid identifier"
    name, idx, op, val = m.group(1), m.group(2), m.group(3), m.group(4)
    if "n" in attrs:
        return _declare_ref(sh, name, op, val, attrs, local)
    scope = sh.scopes[-1] if local else None
    v = scope.get(name) if scope is not None else sh.lookup_var(name)
    if v is None:
        if local:
            old = sh.lookup_var(name)
            v = scope[name] = Var(None)  # type: ignore[index]
            if old is not None and False:
                v.value = old.value
        else:
            v = sh.scopes[0][name] = Var(None)
    if "r" in v.attrs and (op or "r" not in attrs):
        if op:
            return f"{name}: readonly variable"
    for a in attrs:
        if a == "+":
            continue
        if a == "a" and not isinstance(v.value, dict):
            v.value = {} if v.value is None else {0: v.value}
        if a == "A" and not isinstance(v.value, dict):
            v.value = {}
        v.attrs.add(a)
    if op:
        if (
            val.startswith("(")
            and val.endswith(")")
            and ("a" in v.attrs or "A" in v.attrs or True)
            and idx is None
        ):
            from .ast import Assign

            p = Parser(f"{name}={val}")
            node = p.parse_all().items[0][0]
            a: Assign = node.assigns[0]
            a.append = op == "+="
            if "A" in v.attrs or "a" in v.attrs or True:
                sh.assign(a, None if not local else None)
            return None
        if idx is not None:
            sh.set_elem(name, idx[1:-1], val, op == "+=")
        else:
            if "r" in v.attrs:
                v.attrs.discard("r")
                sh.set_var(name, val, op == "+=")
                v.attrs.add("r")
            else:
                sh.set_var(name, val, op == "+=")
    return None


def _declare_ref(sh: Any, name: str, op: str, val: str, attrs: str, local: bool) -> str | None:
    """`declare -n ref[=target]`: the ref itself gets the attribute and the name it follows."""
    if op and val and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\[.*\])?", val, re.S):
        return f"`{val}': invalid variable name for name reference"
    if op and val == name:
        return f"{name}: nameref variable self references not allowed"
    scope = sh.scopes[-1] if local else None
    v = scope.get(name) if scope is not None else sh.lookup_raw(name)
    if v is None:
        v = (scope if scope is not None else sh.scopes[0]).setdefault(name, Var(None))
    elif "r" in v.attrs and op:
        return f"{name}: readonly variable"
    sh.namerefs = True
    v.attrs.update(c for c in attrs if c in "nrx")
    if op:
        v.value = val
    return None


def _print_decl(sh: Any, name: str) -> str | None:
    v = sh.lookup_raw(name)
    if v is None:
        return None
    flags = "".join(c for c in "aAilnrux" if c in v.attrs) or "-"
    if isinstance(v.value, dict):
        if "A" in v.attrs:
            items = " ".join(
                f"[{shell_quote(str(k)) if False else k}]={_dq(x)}" for k, x in v.value.items()
            )
        else:
            items = " ".join(f"[{k}]={_dq(x)}" for k, x in sorted(v.value.items()))
        return f"declare -{flags} {name}=({items}{' ' if items and 'A' in v.attrs else ''})"
    if v.value is None:
        return f"declare -{flags} {name}"
    return f"declare -{flags} {name}={_dq(v.value)}"


def _call_stack_decls(sh: Any) -> dict[str, str]:
    """The arrays bash keeps itself, as `declare -a` lists them."""
    out = {n: f"declare -a {n}=()" for n in ("BASH_ARGC", "BASH_ARGV", "DIRSTACK")}
    for n in ("BASH_LINENO", "BASH_SOURCE", "FUNCNAME"):
        vals = sh.call_stack(n)
        items = " ".join(f"[{i}]={_dq(x)}" for i, x in enumerate(vals))
        out[n] = f"declare -a {n}=({items})" if vals else f"declare -a {n}"
    return out


def _dq(s: str) -> str:
    return '"' + re.sub(r'(["\\$`])', r"\\\1", s) + '"'


@builtin("declare", "typeset", "local", "export", "readonly")
def b_declare(sh: Any, args: list[str], inp: Input) -> Gen:
    cmd = args[0]
    attrs = ""
    remove = ""
    printing = False
    funcs = False
    glob = False
    names: list[str] = []
    if cmd == "export":
        attrs = "x"
    elif cmd == "readonly":
        attrs = "r"
    for a in args[1:]:
        if names or not (a.startswith("-") or a.startswith("+")) or a in ("-", "+"):
            names.append(a)
            continue
        if a == "--":
            continue
        for c in a[1:]:
            if c == "p":
                printing = True
            elif c in "fF":
                funcs = True
            elif c == "g":
                glob = True
            elif c == "n":
                if a[0] == "+":
                    remove += "n"
                else:
                    attrs += "n"
            elif c in "aAixrlut":
                if a[0] == "+":
                    remove += c
                else:
                    attrs += c
            else:
                yield err(f"{cmd}: -{c}: invalid option")
                return 2
    if cmd == "local" and sh.func_depth == 0:
        yield err("local: can only be used in a function")
        return 1
    local = (cmd in ("local", "declare", "typeset")) and sh.func_depth > 0 and not glob
    if funcs:
        st = 0
        for n in names or sorted(sh.functions):
            if n not in sh.functions:
                st = 1
                continue
            yield (1, enc(f"{n}\n" if "F" in "".join(args) else f"{n} () {{ ... }}\n"))
        return st
    if printing or (not names and cmd in ("declare", "typeset", "export", "readonly")):
        if not names:
            out = []
            seen = set()
            for scope in sh.scopes:
                seen.update(scope)
            shown = _call_stack_decls(sh) if "a" in attrs else {}
            for n in sorted(seen | set(shown)):
                if n in shown:
                    out.append(shown[n])
                    continue
                v = sh.lookup_raw(n)
                if v is None:
                    continue
                has = v.attrs | (
                    {"a"} if isinstance(v.value, dict) and "A" not in v.attrs else set()
                )
                if attrs and not set(attrs) <= has:
                    continue
                line = _print_decl(sh, n)
                if line:
                    if cmd == "export" and not printing:
                        line = line.replace("declare", "declare", 1)
                    out.append(line)
            yield (1, enc("".join(x + "\n" for x in out)))
            return 0
        st = 0
        for n in names:
            if n in ("FUNCNAME", "BASH_SOURCE", "BASH_LINENO"):
                yield (1, enc(_call_stack_decls(sh)[n] + "\n"))
                continue
            line = _print_decl(sh, n)
            if line is None:
                yield err(f"declare: {n}: not found")
                st = 1
            else:
                yield (1, enc(line + "\n"))
        return st
    st = 0
    for n in names:
        if cmd == "export" and "=" not in n and is_name(n) and sh.lookup_var(n) is None:
            sh.scopes[0][n] = Var(None, "x")
            continue
        try:
            e = _assign_arg(sh, n, attrs, local)
        except ExpansionError as ex:
            e = str(ex)
        if e:
            yield err(f"{cmd}: {e}")
            st = 1
            continue
        nm = re.match(r"[A-Za-z_][A-Za-z0-9_]*", n)
        if nm and remove:
            v = (sh.lookup_raw if "n" in remove else sh.lookup_var)(nm.group(0))
            if v is not None:
                v.attrs -= set(remove)
    return st


@builtin("unset")
def b_unset(sh: Any, args: list[str], inp: Input) -> Gen:
    mode = "v"
    st = 0
    for a in args[1:]:
        if a in ("-v", "-f", "-n"):
            mode = a[1]
            continue
        if mode == "n" and is_name(a):
            sh.unset_var(a, ref=True)
            continue
        if mode == "f":
            sh.functions.pop(a, None)
            continue
        try:
            if "[" in a and a.endswith("]"):
                name, idx = a[: a.index("[")], a[a.index("[") + 1 : -1]
                v = sh.lookup_var(name)
                if v is not None and isinstance(v.value, dict):
                    if idx in ("@", "*"):
                        sh.unset_var(name)
                    else:
                        v.value.pop(sh._index(v, idx, True), None)
                elif v is not None and isinstance(v.value, str) and idx in ("0", "@", "*"):
                    sh.unset_var(name)
                continue
            if not is_name(a):
                yield err(f"unset: `{a}': not a valid identifier")
                st = 1
                continue
            if sh.lookup_var(a) is None and a in sh.functions and mode == "v":
                sh.functions.pop(a)
                continue
            sh.unset_var(a)
        except ExpansionError as e:
            yield err(str(e))
            st = 1
    return st


OPT_LETTERS = {
    "e": "errexit",
    "u": "nounset",
    "x": "xtrace",
    "f": "noglob",
    "C": "noclobber",
    "a": "allexport",
    "v": "verbose",
    "n": "noexec",
    "h": "hashall",
    "B": "braceexpand",
    "b": "notify",
    "k": "keyword",
    "m": "monitor",
    "p": "privileged",
    "t": "onecmd",
    "E": "errtrace",
    "H": "histexpand",
    "P": "physical",
    "T": "functrace",
}


@builtin("set")
def b_set(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    if not a:
        out = []
        for scope in sh.scopes[:1]:
            for k in sorted(scope):
                v = scope[k]
                if isinstance(v.value, str):
                    out.append(f"{k}={shell_quote(v.value)}\n")
        yield (1, enc("".join(out)))
        return 0
    i = 0
    while i < len(a):
        x = a[i]
        if x in ("--", "-"):
            sh.positional_args = a[i + 1 :]
            return 0
        if x in ("-o", "+o"):
            if i + 1 >= len(a):
                yield (1, enc(listing(sh, list(SET_O), "table" if x == "-o" else "set")))
                return 0
            name = a[i + 1]
            if name not in SET_O:
                yield err(f"set: {name}: invalid option name")
                return 1
            sh.options[name] = x == "-o"
            i += 2
            continue
        if x[:1] in ("-", "+") and len(x) > 1:
            if "o" in x[1:] and i + 1 < len(a):
                name = a[i + 1]
                if name not in SET_O:
                    yield err(f"set: {name}: invalid option name")
                    return 1
                sh.options[name] = x[0] == "-"
                a = a[: i + 1] + a[i + 2 :]
                x = x.replace("o", "")
                if len(x) == 1:
                    i += 1
                    continue
            for c in x[1:]:
                if c not in OPT_LETTERS:
                    yield err(f"set: {x[0]}{c}: invalid option")
                    return 2
                sh.options[OPT_LETTERS[c]] = x[0] == "-"
            i += 1
            continue
        sh.positional_args = a[i:]
        return 0
    return 0


@builtin("shopt")
def b_shopt(sh: Any, args: list[str], inp: Input) -> Gen:
    mode = ""
    quiet = pflag = setnames = False
    a = args[1:]
    while a and a[0].startswith("-") and len(a[0]) > 1:
        x = a.pop(0)
        if x == "--":
            break
        for c in x[1:]:
            if c in "su":
                mode = "-" + c
            elif c == "q":
                quiet = True
            elif c == "p":
                pflag = True
            elif c == "o":
                setnames = True
            else:
                yield err(f"shopt: -{c}: invalid option")
                yield (2, b"shopt: usage: shopt [-pqsu] [-o] [optname ...]\n")
                return 2
    table = SET_O if setnames else SHOPT
    for n in a:
        if n not in table:
            yield err(f"shopt: {n}: invalid {'option' if setnames else 'shell option'} name")
            return 1
    if "extglob" in a and mode:  # parses kept for reuse were made under the old setting
        from .interp import _PARSED

        _PARSED.clear()
    if mode and a:
        for n in a:
            sh.options[n] = mode == "-s"
        return 0
    names = a or (list(SET_O) if setnames else SHOPT_ORDER)
    if mode:  # `shopt -s`/`-u` alone lists the options that are on/off
        names = [n for n in names if is_on(sh, n) == (mode == "-s")]
    st = 0 if not a or all(is_on(sh, n) for n in a) else 1
    if not quiet:
        form = "table" if not pflag else ("set" if setnames else "shopt")
        yield (1, enc(listing(sh, names, form)))
    return st


@builtin("shift")
def b_shift(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        n = int(args[1]) if len(args) > 1 else 1
    except ValueError:
        yield err(f"shift: {args[1]}: numeric argument required")
        return 1
    if n > len(sh.positional_args) or n < 0:
        return 1
    sh.positional_args = sh.positional_args[n:]
    return 0


@builtin("exit")
def b_exit(sh: Any, args: list[str], inp: Input) -> Gen:
    st = sh.status
    if len(args) > 1:
        try:
            st = int(args[1]) & 255
        except ValueError:
            yield err(f"exit: {args[1]}: numeric argument required")
            st = 2
    raise ExitShell(st)


@builtin("return")
def b_return(sh: Any, args: list[str], inp: Input) -> Gen:
    st = sh.status
    if len(args) > 1:
        try:
            st = int(args[1]) & 255
        except ValueError:
            yield err(f"return: {args[1]}: numeric argument required")
            st = 2
    if sh.func_depth == 0 and not getattr(sh, "sourcing", 0):
        yield err("return: can only `return' from a function or sourced script")
        return 2
    raise ReturnFn(st)


def _loop_n(sh: Any, args: list[str]) -> Generator[tuple[int, bytes], None, int]:
    """The N of `break N`/`continue N`; bash leaves the loop on a bad count and exits the
    shell on a count that is no number."""
    if len(args) > 1 and args[1] == "--":
        args = args[:1] + args[2:]
    if len(args) > 2:
        yield err(f"{args[0]}: too many arguments")
        raise BreakLoop(1, 1)
    if len(args) < 2:
        return 1
    try:
        n = int(args[1].strip())
    except ValueError:
        yield err(f"{args[0]}: {args[1]}: numeric argument required")
        raise ExitShell(128) from None
    if n < 1:
        yield err(f"{args[0]}: {args[1]}: loop count out of range")
        raise BreakLoop(1, 1)
    return min(n, sh.loop_depth)  # `break 5` in two loops leaves both, and no more


@builtin("break")
def b_break(sh: Any, args: list[str], inp: Input) -> Gen:
    if sh.loop_depth == 0:
        return 0
    raise BreakLoop((yield from _loop_n(sh, args)))


@builtin("continue")
def b_continue(sh: Any, args: list[str], inp: Input) -> Gen:
    if sh.loop_depth == 0:
        return 0
    raise ContinueLoop((yield from _loop_n(sh, args)))


@builtin("eval")
def b_eval(sh: Any, args: list[str], inp: Input) -> Gen:
    src = " ".join(args[1:])
    if not src.strip():
        return 0
    p = Parser(src, sh.aliases, sh.options["extglob"])
    st = 0
    while True:
        p.extglob = sh.options["extglob"]
        try:
            node = p.parse_next()
        except ParseError as e:
            for line in e.report("bash: eval", src).splitlines(True):
                yield (2, enc(line))
            return 2
        if node is None:
            return st
        try:
            st = yield from sh.exec_list(node, inp)
        except AbortCommand as e:  # an expansion error ends this command of the string
            st = sh.status = e.status


@builtin("source", ".")
def b_source(sh: Any, args: list[str], inp: Input) -> Gen:
    if len(args) < 2:
        yield err(f"{args[0]}: filename argument required")
        return 2
    path = args[1]
    full = sh.resolve(path)
    if "/" not in path and not os.path.isfile(full):
        for d in (sh.get_str("PATH") or "").split(":"):
            if d and os.path.isfile(os.path.join(d, path)):
                full = os.path.join(d, path)
                break
    try:
        with open(full, "rb") as f:
            src = f.read().decode("utf-8", "surrogateescape")
    except OSError:
        yield err(f"{path}: No such file or directory")
        return 1
    saved = sh.positional_args
    if len(args) > 2:
        sh.positional_args = args[2:]
    sh.sourcing = getattr(sh, "sourcing", 0) + 1
    try:
        p = Parser(src, sh.aliases, sh.options["extglob"])
        st = 0
        while True:
            p.extglob = sh.options["extglob"]
            try:
                node = p.parse_next()
            except ParseError as e:
                yield (2, enc(e.report(path, src)))
                return 2
            if node is None:
                return st
            try:
                st = yield from sh.exec_list(node, inp)
            except AbortCommand as e:  # an expansion error ends this command of the file
                st = sh.status = e.status
    except ReturnFn as e:
        return e.status
    finally:
        sh.sourcing -= 1
        if len(args) > 2:
            sh.positional_args = saved


@builtin("exec")
def b_exec(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    argv0, login = None, False
    while a and a[0].startswith("-") and len(a[0]) > 1:
        x = a.pop(0)
        if x == "--":
            break
        for k, c in enumerate(x[1:], 1):
            if c == "a":  # the name the command sees as its $0
                argv0 = x[k + 1 :] or (a.pop(0) if a else None)
                break
            login = login or c == "l"  # `-l`: $0 with a dash in front, as for a login shell
    if not a:
        return 0
    if argv0 is not None or login:
        name = argv0 if argv0 is not None else a[0]
        a = [a[0], *a[1:]]
        b = BUILTINS.get(a[0])
        if b is not None:  # a builtin we run in-process can be handed the other $0
            st = yield from b(sh, [("-" if login else "") + name, *a[1:]], inp)
            raise ExitShell(st)
    st = yield from sh.run_argv(a, inp)
    raise ExitShell(st)


_SIGNALS = (
    "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT "
    "STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS"
).split()
_PSEUDO = ("DEBUG", "ERR", "RETURN")


def _trap_key(spec: str) -> str | None:
    """EXIT, DEBUG, ERR, RETURN or a signal's name without SIG, from a name or number."""
    if spec.isdigit():
        n = int(spec)
        return "EXIT" if n == 0 else _SIGNALS[n - 1] if n <= len(_SIGNALS) else None
    s = spec.upper()
    s = s[3:] if s.startswith("SIG") else s
    return s if s == "EXIT" or s in _PSEUDO or s in _SIGNALS else None


def _trap_line(key: str, code: str) -> str:
    shown = key if key == "EXIT" or key in _PSEUDO else "SIG" + key
    quoted = "'" + code.replace("'", "'\\''") + "'"  # bash always single-quotes here
    return f"trap -- {quoted} {shown}\n"


def _trap_order(key: str) -> int:
    if key == "EXIT":
        return 0
    return _SIGNALS.index(key) + 1 if key in _SIGNALS else 100 + _PSEUDO.index(key)


@builtin("trap")
def b_trap(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    if a[:1] == ["--"]:
        a = a[1:]
    if not a or a[0] == "-p":
        keys = [k for k in (_trap_key(x) for x in a[1:]) if k] or sorted(sh.traps, key=_trap_order)
        yield (1, enc("".join(_trap_line(k, sh.traps[k]) for k in keys if k in sh.traps)))
        return 0
    if a[0] == "-l":
        yield (1, enc("".join(f"{n:2}) SIG{s}\n" for n, s in enumerate(_SIGNALS, 1))))
        return 0
    if len(a) == 1 and _trap_key(a[0]):  # `trap INT`: back to the default
        a = ["-", a[0]]
    code, st = a[0], 0
    for sig in a[1:]:
        key = _trap_key(sig)
        if key is None:
            yield err(f"trap: {sig}: invalid signal specification")
            st = 1
        elif code == "-":
            sh.traps.pop(key, None)
        else:
            sh.traps[key] = code
    return st


def _find_path(sh: Any, name: str) -> str | None:
    from .commands import COMMANDS
    from .commands.misc import LINUX_ONLY

    if name in COMMANDS and name not in LINUX_ONLY:
        return f"/usr/bin/{name}"
    if name in ("python", "python3") and sh.python_runner is not None:
        return f"/usr/bin/{name}"
    return None


KEYWORDS = {
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "case",
    "esac",
    "for",
    "while",
    "until",
    "do",
    "done",
    "in",
    "function",
    "{",
    "}",
    "!",
    "[[",
    "]]",
    "time",
}


@builtin("type")
def b_type(sh: Any, args: list[str], inp: Input) -> Gen:
    st = 0
    flags = [a for a in args[1:] if a.startswith("-")]
    for n in [a for a in args[1:] if not a.startswith("-")]:
        t = "-t" in flags
        if n in sh.aliases:
            yield (1, enc("alias\n" if t else f"{n} is aliased to `{sh.aliases[n]}'\n"))
        elif n in KEYWORDS:
            yield (1, enc("keyword\n" if t else f"{n} is a shell keyword\n"))
        elif n in sh.functions:
            yield (1, enc("function\n" if t else f"{n} is a function\n"))
        elif n in BUILTINS and n not in PY:
            yield (1, enc("builtin\n" if t else f"{n} is a shell builtin\n"))
        elif _find_path(sh, n):
            p = _find_path(sh, n)
            yield (
                1,
                enc(
                    "file\n"
                    if t
                    else (p + "\n")
                    if "-p" in flags or "-P" in flags
                    else f"{n} is {p}\n"
                ),
            )
        else:
            if not t:
                yield err(f"type: {n}: not found")
            st = 1
    return st


@builtin("command")
def b_command(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    mode = ""
    while a and a[0].startswith("-") and a[0] != "-":
        if a[0] == "--":
            a = a[1:]
            break
        if "v" in a[0]:
            mode = "v"
        elif "V" in a[0]:
            mode = "V"
        a = a[1:]
    if not a:
        return 0
    if mode:
        st = 0
        for n in a:
            if n in sh.aliases:
                yield (
                    1,
                    enc(
                        f"alias {n}='{sh.aliases[n]}'\n"
                        if mode == "v"
                        else f"{n} is aliased to `{sh.aliases[n]}'\n"
                    ),
                )
            elif n in sh.functions or (n in BUILTINS and n not in PY) or n in KEYWORDS:
                kind = (
                    "function"
                    if n in sh.functions
                    else "shell builtin"
                    if n in BUILTINS
                    else "shell keyword"
                )
                yield (1, enc(f"{n}\n" if mode == "v" else f"{n} is a {kind}\n"))
            elif _find_path(sh, n):
                yield (
                    1,
                    enc(
                        f"{_find_path(sh, n)}\n" if mode == "v" else f"{n} is {_find_path(sh, n)}\n"
                    ),
                )
            else:
                if mode == "V":
                    yield err(f"command: {n}: not found")
                st = 1
        return st
    saved = sh.functions
    sh.functions = {}
    try:
        return (yield from sh.run_argv(a, inp))
    finally:
        sh.functions = saved


@builtin("builtin")
def b_builtin(sh: Any, args: list[str], inp: Input) -> Gen:
    if len(args) < 2:
        return 0
    b = BUILTINS.get(args[1])
    if b is None:
        yield err(f"builtin: {args[1]}: not a shell builtin")
        return 1
    return (yield from b(sh, args[1:], inp))


@builtin("alias")
def b_alias(sh: Any, args: list[str], inp: Input) -> Gen:
    st = 0
    if len(args) == 1:
        for k in sorted(sh.aliases):
            yield (
                1,
                enc(f"alias {k}={shell_quote(sh.aliases[k]) if sh.aliases[k] else chr(39) * 2}\n"),
            )
        return 0
    for a in args[1:]:
        if "=" in a:
            k, _, v = a.partition("=")
            sh.aliases[k] = v
        elif a in sh.aliases:
            yield (1, enc(f"alias {a}={shell_quote(sh.aliases[a])}\n"))
        else:
            yield err(f"alias: {a}: not found")
            st = 1
    return st


@builtin("unalias")
def b_unalias(sh: Any, args: list[str], inp: Input) -> Gen:
    st = 0
    for a in args[1:]:
        if a == "-a":
            sh.aliases.clear()
        elif a in sh.aliases:
            del sh.aliases[a]
        else:
            yield err(f"unalias: {a}: not found")
            st = 1
    return st


@builtin("let")
def b_let(sh: Any, args: list[str], inp: Input) -> Gen:
    if len(args) < 2:
        yield err("let: expression expected")
        return 1
    v = 0
    for a in args[1:]:
        try:
            v = sh.arith(a)
        except ExpansionError as e:
            yield err(f"let: {e}")
            return 1
    return 0 if v else 1


@builtin("hash")
def b_hash(sh: Any, args: list[str], inp: Input) -> Gen:
    opts, names = "", args[1:]
    path = None
    while names and names[0].startswith("-") and len(names[0]) > 1:
        a = names.pop(0)
        if a == "--":
            break
        for ch in a[1:]:
            if ch not in "rdtlp":
                yield err(f"hash: -{ch}: invalid option")
                yield err("hash: usage: hash [-lr] [-p pathname] [-dt] [name ...]")
                return 2
            if ch == "p":
                if not names:
                    yield err("hash: -p: option requires an argument")
                    return 2
                path = names.pop(0)
        opts += a[1:]
    sh.hash_command("", search=False)  # forget the table if PATH changed
    if "r" in opts:
        sh.hashed.clear()
    if path is not None:
        for n in names:
            sh.hashed[n] = [path, 0]
        return 0
    if not names:
        if "r" in opts:
            return 0
        if not sh.hashed:
            yield (1, b"hash: hash table empty\n")
            return 0
        if "l" in opts:
            lines = [f"builtin hash -p {p} {n}\n" for n, (p, _) in sh.hashed.items()]
        else:
            lines = ["hits\tcommand\n"] + [f"{h:4}\t{p}\n" for p, h in sh.hashed.values()]
        yield (1, enc("".join(lines)))
        return 0
    st = 0
    for n in names:
        if "d" in opts:
            if sh.hashed.pop(n, None) is None:
                yield err(f"hash: {n}: not found")
                st = 1
            continue
        if "t" in opts:
            e = sh.hashed.get(n)
            if e is None:
                yield err(f"hash: {n}: not found")
                st = 1
            else:
                yield (1, enc(f"{n}\t{e[0]}\n" if len(names) > 1 else f"{e[0]}\n"))
            continue
        if "/" in n or n in sh.functions or n in BUILTINS:
            continue
        sh.hashed.pop(n, None)  # looked for again, with no hits yet
        if sh.hash_command(n) is None:
            yield err(f"hash: {n}: not found")
            st = 1
        else:
            sh.hashed[n][1] = 0
    return st


@builtin("ulimit", "bg", "fg", "times", "enable", "suspend")
def b_noop(sh: Any, args: list[str], inp: Input) -> Gen:
    return 0
    yield


@builtin("getopts")
def b_getopts(sh: Any, args: list[str], inp: Input) -> Gen:
    if len(args) < 3:
        yield err("getopts: usage: getopts optstring name [arg ...]")
        return 2
    optstring, name = args[1], args[2]
    argv = args[3:] if len(args) > 3 else list(sh.positional_args)
    silent = optstring.startswith(":")
    if silent:
        optstring = optstring[1:]
    try:
        optind = int(sh.get_str("OPTIND") or "1")
    except ValueError:
        optind = 1
    sub = getattr(sh, "_optsub", 0)
    if getattr(sh, "_optind_seen", None) != optind:
        sub = 0
    if optind - 1 >= len(argv):
        sh.set_var(name, "?")
        return 1
    cur = argv[optind - 1]
    if sub == 0:
        if cur == "--":
            sh.set_var("OPTIND", str(optind + 1))
            sh.set_var(name, "?")
            return 1
        if not cur.startswith("-") or cur == "-":
            sh.set_var(name, "?")
            return 1
        sub = 1
    c = cur[sub]
    sub += 1
    done_word = sub >= len(cur)
    idx = optstring.find(c)
    if idx < 0 or c == ":":
        if silent:
            sh.set_var("OPTARG", c)
        else:
            yield err(f"illegal option -- {c}")
            sh.unset_var("OPTARG")
        sh.set_var(name, "?")
    elif idx + 1 < len(optstring) and optstring[idx + 1] == ":":
        if not done_word:
            sh.set_var("OPTARG", cur[sub:])
            done_word = True
        elif optind < len(argv):
            sh.set_var("OPTARG", argv[optind])
            optind += 1
        else:
            if silent:
                sh.set_var("OPTARG", c)
                sh.set_var(name, ":")
            else:
                yield err(f"option requires an argument -- {c}")
                sh.set_var(name, "?")
                sh.unset_var("OPTARG")
            sh.set_var("OPTIND", str(optind + 1))
            sh._optsub = 0
            sh._optind_seen = optind + 1
            return 0
        sh.set_var(name, c)
    else:
        sh.set_var(name, c)
        sh.unset_var("OPTARG")
    if done_word:
        optind += 1
        sub = 0
    sh.set_var("OPTIND", str(optind))
    sh._optsub = sub
    sh._optind_seen = optind
    return 0


@builtin("pushd")
def b_pushd(sh: Any, args: list[str], inp: Input) -> Gen:
    if len(args) < 2:
        if not sh.dirstack:
            yield err("pushd: no other directory")
            return 1
        target = sh.dirstack[0]
        sh.dirstack[0] = sh.cwd
    else:
        target = os.path.normpath(os.path.join(sh.cwd, args[1]))
        if not os.path.isdir(target):
            yield err(f"pushd: {args[1]}: No such file or directory")
            return 1
        sh.dirstack.insert(0, sh.cwd)
    _set_cwd(sh, target)
    yield from _dirs(sh)
    return 0


@builtin("popd")
def b_popd(sh: Any, args: list[str], inp: Input) -> Gen:
    if not sh.dirstack:
        yield err("popd: directory stack empty")
        return 1
    _set_cwd(sh, sh.dirstack.pop(0))
    yield from _dirs(sh)
    return 0


def _dirs(sh: Any) -> Gen:
    home = sh.get_str("HOME") or ""

    def short(p: str) -> str:
        return "~" + p[len(home) :] if home and (p == home or p.startswith(home + "/")) else p

    yield (1, enc(" ".join(short(p) for p in [sh.cwd] + sh.dirstack) + "\n"))
    return 0


@builtin("dirs")
def b_dirs(sh: Any, args: list[str], inp: Input) -> Gen:
    if "-c" in args:
        sh.dirstack.clear()
        return 0
    return (yield from _dirs(sh))


@builtin("read")
def b_read(sh: Any, args: list[str], inp: Input) -> Gen:
    raw = False
    delim = "\n"
    nchars: int | None = None
    exact = False
    array: str | None = None
    names: list[str] = []
    poll = False
    i = 1
    while i < len(args):
        a = args[i]
        if a.startswith("-") and len(a) > 1 and not names:
            j = 1
            while j < len(a):
                c = a[j]
                if c == "r":
                    raw = True
                elif c == "s":
                    pass
                elif c in "pdntauN":
                    val = (
                        a[j + 1 :] if j + 1 < len(a) else (args[i + 1] if i + 1 < len(args) else "")
                    )
                    if j + 1 >= len(a):
                        i += 1
                    if c == "d":
                        delim = val[:1] if val else "\x00"
                    elif c in "nN":
                        if not val.isdigit():
                            yield err(f"read: {val}: invalid number")
                            return 1
                        nchars = int(val)
                        exact = c == "N"
                    elif c == "u":
                        p = sh.persistent_fds.get(int(val)) if val.isdigit() else None
                        if isinstance(p, tuple) and p[0] == "in":
                            inp = p[1]
                        elif val not in ("0",):
                            yield err(f"read: {val}: invalid file descriptor: Bad file descriptor")
                            return 1
                    elif c == "a":
                        array = val
                    elif c == "t":
                        try:
                            poll = float(val) == 0  # -t 0: is input there? reads nothing
                        except ValueError:
                            yield err(f"read: {val}: invalid timeout specification")
                            return 1
                    elif c == "p":
                        yield (2, enc(val))
                    break
                else:
                    yield err(f"read: -{c}: invalid option")
                    return 2
                j += 1
            i += 1
            continue
        names.append(a)
        i += 1
    if poll:
        return 0
    d = delim.encode("utf-8", "surrogateescape") if delim != "\x00" else b"\x00"
    buf = bytearray()
    eof = False
    if nchars is None and not exact and (d == b"\n" or raw):
        while True:
            line = inp.readline(d)
            if not line.endswith(d):
                eof = True
                buf += line
                break
            body = line[: -len(d)]
            if (
                not raw
                and d == b"\n"
                and body.endswith(b"\\")
                and (len(body) - len(body.rstrip(b"\\"))) % 2 == 1
            ):
                buf += body[:-1]
                continue
            buf += body
            break
        nchars = -1
    count = 0
    while nchars != -1:
        if nchars is not None and count >= nchars:
            break
        b = inp.read(1)
        if not b:
            eof = True
            break
        if b == d and not exact:
            break
        if b == b"\\" and not raw:
            nb = inp.read(1)
            if nb == b"\n":
                continue
            buf += b"\\" + nb
            count += 1
            continue
        buf += b
        count += 1
    line = buf.decode("utf-8", "surrogateescape")
    if eof and not buf:
        for n in names or ([] if array else ["REPLY"]):
            sh.set_var(n, "")
        if array:
            sh.assign_array(array, []) if hasattr(sh, "assign_array") else _set_array(sh, array, [])
        return 1
    if exact or (not names and not array):
        if not raw:
            line = re.sub(r"\\(.)", r"\1", line, flags=re.S)
        sh.set_var(names[0] if names else "REPLY", line)
        for n in names[1:]:  # -N: all of it goes to the first name
            sh.set_var(n, "")
        return 1 if eof else 0
    ifs = sh.ifs()
    fields = _read_split(line, ifs, len(names) if not array else 10**9, raw)
    if array:
        _set_array(sh, array, fields)
    else:
        for k, n in enumerate(names):
            sh.set_var(n, fields[k] if k < len(fields) else "")
    return 1 if eof else 0


def _set_array(sh: Any, name: str, vals: list[str]) -> None:
    scope = sh._scope_for(name)
    scope[name] = Var({i: v for i, v in enumerate(vals)}, "a")


def _read_split(line: str, ifs: str, n: int, raw: bool) -> list[str]:
    """Split per IFS; the last of n fields gets the remainder (with escapes honoured)."""
    ws = "".join(c for c in ifs if c in " \t\n")
    # tokens: (char, escaped)
    toks = []
    i = 0
    while i < len(line):
        if not raw and line[i] == "\\" and i + 1 < len(line):
            toks.append((line[i + 1], True))
            i += 2
        else:
            toks.append((line[i], False))
            i += 1
    k = 0
    while k < len(toks) and not toks[k][1] and toks[k][0] in ws:
        k += 1
    fields: list[str] = []
    cur: list[str] = []
    while k < len(toks):
        c, esc = toks[k]
        if len(fields) == n - 1:
            rest = toks[k:]
            # strip trailing IFS whitespace
            while rest and not rest[-1][1] and rest[-1][0] in ws:
                rest.pop()
            if rest and not rest[-1][1] and rest[-1][0] in ifs and rest[-1][0] not in ws:
                # a single trailing non-ws delimiter is dropped when it ends the last field
                only = [t for t in rest[:-1] if t[1] or t[0] not in ifs]
                if len(only) == len(rest) - 1:
                    rest.pop()
            fields.append("".join(cur) + "".join(t[0] for t in rest))
            return fields
        if not esc and c in ifs:
            fields.append("".join(cur))
            cur = []
            k += 1
            while k < len(toks) and not toks[k][1] and toks[k][0] in ws:
                k += 1
            if (
                c in ws
                and k < len(toks)
                and not toks[k][1]
                and toks[k][0] in ifs
                and toks[k][0] not in ws
            ):
                k += 1
                while k < len(toks) and not toks[k][1] and toks[k][0] in ws:
                    k += 1
            continue
        cur.append(c)
        k += 1
    if cur:
        fields.append("".join(cur))
    return fields


@builtin("mapfile", "readarray")
def b_mapfile(sh: Any, args: list[str], inp: Input) -> Gen:
    strip = "-t" in args
    names = [a for a in args[1:] if not a.startswith("-")]
    name = names[0] if names else "MAPFILE"
    vals = []
    for line in inp.lines():
        s = line.decode("utf-8", "surrogateescape")
        vals.append(s[:-1] if strip and s.endswith("\n") else s)
    _set_array(sh, name, vals)
    return 0
    yield


# ---------------------------------------------------------------- test / [
def unary_test(sh: Any, op: str, a: str) -> bool:
    if op == "-n":
        return a != ""
    if op == "-z":
        return a == ""
    if op == "-o":
        return bool(sh.options.get(a))
    if op == "-v":
        if "[" in a and a.endswith("]"):
            try:
                return sh.get_elem(a[: a.index("[")], a[a.index("[") + 1 : -1]) is not None
            except ExpansionError:
                return False
        return sh.is_set(a)
    if op == "-t":
        return False
    path = sh.resolve(a) if a else ""
    try:
        st = os.stat(path) if op != "-L" and op != "-h" else os.lstat(path)
    except (OSError, ValueError):
        return False
    m = st.st_mode
    return {
        "-e": True,
        "-a": True,
        "-f": stat.S_ISREG(m),
        "-d": stat.S_ISDIR(m),
        "-s": st.st_size > 0,
        "-r": os.access(path, os.R_OK),
        "-w": os.access(path, os.W_OK),
        "-x": os.access(path, os.X_OK),
        "-L": stat.S_ISLNK(m),
        "-h": stat.S_ISLNK(m),
        "-p": stat.S_ISFIFO(m),
        "-b": stat.S_ISBLK(m),
        "-c": stat.S_ISCHR(m),
        "-S": stat.S_ISSOCK(m),
        "-g": bool(m & stat.S_ISGID),
        "-u": bool(m & stat.S_ISUID),
        "-k": bool(m & stat.S_ISVTX),
        "-O": True,
        "-G": True,
        "-N": True,
    }.get(op, False)


def binary_test(sh: Any, op: str, a: str, b: str) -> bool:
    if op in ("-nt", "-ot"):
        try:
            ma = os.stat(sh.resolve(a)).st_mtime
        except OSError:
            ma = None
        try:
            mb = os.stat(sh.resolve(b)).st_mtime
        except OSError:
            mb = None
        if op == "-nt":
            return ma is not None and (mb is None or ma > mb)
        return mb is not None and (ma is None or ma < mb)
    if op == "-ef":
        try:
            return os.path.samefile(sh.resolve(a), sh.resolve(b))
        except OSError:
            return False
    return False


class TestError(Exception):
    pass


UNARY = {
    "-e",
    "-a",
    "-f",
    "-d",
    "-s",
    "-r",
    "-w",
    "-x",
    "-L",
    "-h",
    "-p",
    "-b",
    "-c",
    "-S",
    "-g",
    "-u",
    "-k",
    "-O",
    "-G",
    "-N",
    "-n",
    "-z",
    "-o",
    "-v",
    "-t",
}
BINARY = {"=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"}


def _int(s: str) -> int:
    try:
        return int(s.strip())
    except ValueError:
        raise TestError(f"{s}: integer expression expected") from None


def _binop(sh: Any, a: str, op: str, b: str) -> bool:
    if op in ("=", "=="):
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
        x, y = _int(a), _int(b)
        return {
            "-eq": x == y,
            "-ne": x != y,
            "-lt": x < y,
            "-le": x <= y,
            "-gt": x > y,
            "-ge": x >= y,
        }[op]
    return binary_test(sh, op, a, b)


def test_eval(sh: Any, args: list[str]) -> bool:
    n = len(args)
    if n == 0:
        return False
    if n == 1:
        return args[0] != ""
    if n == 2:
        if args[0] == "!":
            return args[1] == ""
        if args[0] in UNARY:
            return unary_test(sh, args[0], args[1])
        raise TestError(f"{args[0]}: unary operator expected")
    if n == 3:
        if args[1] in BINARY:
            return _binop(sh, args[0], args[1], args[2])
        if args[0] == "!":
            return not test_eval(sh, args[1:])
        if args[0] == "(" and args[2] == ")":
            return args[1] != ""
        if args[1] in ("-a", "-o"):
            pass
        else:
            raise TestError(f"{args[1]}: binary operator expected")
    if n == 4 and args[0] == "!":
        return not test_eval(sh, args[1:])
    if n == 4 and args[0] == "(" and args[3] == ")":
        return test_eval(sh, args[1:3])
    p = _TestParser(sh, args)
    r = p.or_()
    if p.i != len(args):
        raise TestError("too many arguments")
    return r


class _TestParser:
    def __init__(self, sh: Any, args: list[str]) -> None:
        self.sh, self.a, self.i = sh, args, 0

    def peek(self, k: int = 0) -> str | None:
        return self.a[self.i + k] if self.i + k < len(self.a) else None

    def or_(self) -> bool:
        r = self.and_()
        while self.peek() == "-o":
            self.i += 1
            r = self.and_() or r
        return r

    def and_(self) -> bool:
        r = self.not_()
        while self.peek() == "-a":
            self.i += 1
            r = self.not_() and r
        return r

    def not_(self) -> bool:
        if self.peek() == "!":
            self.i += 1
            return not self.not_()
        return self.prim()

    def prim(self) -> bool:
        t = self.peek()
        if t is None:
            raise TestError("argument expected")
        if t == "(":
            self.i += 1
            r = self.or_()
            if self.peek() != ")":
                raise TestError("`)' expected")
            self.i += 1
            return r
        if self.peek(1) in BINARY and self.peek(2) is not None:
            a, op, b = t, self.a[self.i + 1], self.a[self.i + 2]
            self.i += 3
            return _binop(self.sh, a, op, b)
        if t in UNARY and self.peek(1) is not None:
            self.i += 2
            return unary_test(self.sh, t, self.a[self.i - 1])
        self.i += 1
        return t != ""


@builtin("test", "[")
def b_test(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    if args[0] == "[":
        if not a or a[-1] != "]":
            yield err("[: missing `]'")
            return 2
        a = a[:-1]
    try:
        return 0 if test_eval(sh, a) else 1
    except TestError as e:
        yield err(f"{args[0]}: {e}")
        return 2


# ---------------------------------------------------------------- nested shells / python
def run_python(sh: Any, args: list[str], inp: Input) -> Gen:
    if sh.python_runner is None:
        yield (2, b"python3: not available in this shell\n")
        return 127
    out: list[tuple[int, bytes]] = []
    st = sh.python_runner(
        args, inp.read_all(), lambda b: out.append((1, b)), lambda b: out.append((2, b))
    )
    yield from out
    return int(st)


BUILTINS["python"] = run_python
BUILTINS["python3"] = run_python


@builtin("bash", "sh")
def b_bash(sh: Any, args: list[str], inp: Input) -> Gen:
    """A nested shell: fresh state, exported environment, same process."""
    from .interp import Interp

    sub = Interp(env=sh.env(), cwd=sh.cwd, budget=sh.budget, python_runner=sh.python_runner)
    sub.is_subshell = True
    a = args[1:]
    src = None
    while a and a[0].startswith(("-", "+")) and a[0] not in ("-", "--"):
        x = a.pop(0)
        if x == "-c":
            if not a:
                yield err("-c: option requires an argument")
                return 2
            src = a.pop(0)
            break
        if x in ("-o", "+o") and a:
            sub.options[a.pop(0)] = x == "-o"
            continue
        for c in x[1:]:
            if c in OPT_LETTERS:
                sub.options[OPT_LETTERS[c]] = x[0] == "-"
    if a and a[0] == "--":
        a.pop(0)
    if src is not None:
        sub.arg0 = args[0]  # `exec -a name bash -c …` hands over the $0 to use
        if a:
            sub.arg0 = a[0]
            sub.positional_args = a[1:]
    elif a:
        try:
            with open(sh.resolve(a[0]), "rb") as f:
                src = f.read().decode("utf-8", "surrogateescape")
        except OSError:
            yield err(f"{a[0]}: No such file or directory")
            return 127
        sub.arg0 = sub.errname = a[0]
        sub.positional_args = a[1:]
    else:
        src = inp.read_all().decode("utf-8", "surrogateescape")
        inp = Input(b"")
    return (yield from sub.run_subshell_source(src, inp))


from . import jobs as _jobs  # noqa: E402  (registers wait, jobs, kill, disown, umask)

del _jobs
