"""The interpreter: executes AST nodes as generators so pipelines stream without threads."""

from __future__ import annotations

import copy
import dataclasses
import errno
import os
import random
import re
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from . import ast as A
from . import pattern as P
from .expand import Expander, ExpansionError, shell_quote
from .io import MAX_BUFFER, Gen, Input, Sink
from .jobs import start_job
from .lexer import ParseError, is_name
from .parser import Parser
from .state import (
    AbortCommand,
    BreakLoop,
    Budget,
    ContinueLoop,
    ControlFlow,
    ExitShell,
    ReturnFn,
    Var,
)
from .usage import OPTIONS, USAGE, bad_option

ENC = "utf-8"
_INDEX_CACHE: dict[str, A.Word] = {}
DECL_BUILTINS = {"declare", "typeset", "local", "export", "readonly"}


def enc(s: str) -> bytes:
    return s.encode(ENC, "surrogateescape")


def dec(b: bytes) -> str:
    return b.decode(ENC, "surrogateescape")


# errno -> bash's wording when a redirection target cannot be opened
_OPEN_ERRORS = {
    1: "Permission denied",
    2: "No such file or directory",
    6: "No such device or address",
    13: "Permission denied",
    21: "Is a directory",
}


_DYNAMIC = frozenset(
    {"RANDOM", "SECONDS", "LINENO", "PIPESTATUS", "FUNCNAME", "BASH_SOURCE", "BASH_LINENO"}
)
_CALL_STACK = ("FUNCNAME", "BASH_SOURCE", "BASH_LINENO")


# Top-level sources that parsed to one command with no aliases defined, and that command:
# the same line again (`commands.run` of the same command) skips the lexer and parser.
# Nodes are never changed by running them (a function's body runs again and again too).
_PARSED: dict[str, Any] = {}
PARSED_MAX = 256
PARSED_MAX_SOURCE = 4096


class Interp(Expander):
    def __init__(
        self,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        budget: Budget | None = None,
        python_runner: Any = None,
    ) -> None:
        self.scopes: list[dict[str, Var]] = [{}]
        for k, v in (os.environ if env is None else env).items():
            self.scopes[0][k] = Var(v, "x")
        self.cwd = os.path.abspath(cwd or os.getcwd())
        g = self.scopes[0]
        g["PWD"] = Var(self.cwd, "x")
        for k, v in (
            ("IFS", " \t\n"),
            ("PS4", "+ "),
            ("OPTIND", "1"),
            ("HOME", g["HOME"].value if "HOME" in g else "/root"),
        ):
            if k not in g:
                g[k] = Var(v)
        for k in ("UID", "EUID"):  # the guest runs as root (`id -u` says 0)
            if k not in g:
                g[k] = Var("0", "r")
        self.positional_args: list[str] = []
        self.arg0 = "bash"
        self.errname = "bash"  # what diagnostics start with: a script's name, as bash does
        self.functions: dict[str, Any] = {}
        self.aliases: dict[str, str] = {}
        self.options: dict[str, bool] = {
            "errexit": False,
            "nounset": False,
            "xtrace": False,
            "pipefail": False,
            "noglob": False,
            "noclobber": False,
            "nullglob": False,
            "dotglob": False,
            "extglob": False,
            "expand_aliases": True,
            "allexport": False,
            "lastpipe": False,
            "failglob": False,
            "verbose": False,
        }
        self.status = 0
        self.pipestatus: list[int] = [0]
        self.last_bg = ""
        self.jobs: list[Any] = []
        self.job_status: dict[int, int] = {}
        self.job_depth = 0
        self.umask = 0o022
        if hasattr(os, "umask"):
            self.umask = os.umask(0o022)
            os.umask(self.umask)
        self.pid = os.getpid()
        self.start = time.monotonic()
        self.budget = budget or Budget(None)
        self.traps: dict[str, str] = {}
        self.dirstack: list[str] = []
        self.suppress_errexit = 0
        self.lineno = 0
        self.pending_err: list[tuple[int, bytes]] = []
        self.cur_inp: Input = Input(b"")
        self.persistent_fds: dict[int, Any] = {}
        self.python_runner = python_runner
        self.func_depth = 0
        self.loop_depth = 0
        self.is_subshell = False
        self.funcnames: list[str] = []
        self.call_lines: list[int] = []  # the line each active function was called from
        # bash's command hash table: name -> [path, hits]; emptied when PATH changes
        self.hashed: dict[str, list[Any]] = {}
        self.hash_path = ""
        self.namerefs = False  # set by the first `declare -n`: until then no lookup resolves

    # ---------------------------------------------------------------- state
    def fork(self) -> Interp:
        """A subshell: copy of all state; cwd changes stay local to it."""
        sub = copy.copy(self)
        sub.scopes = copy.deepcopy(self.scopes)
        sub.functions = dict(self.functions)
        sub.aliases = dict(self.aliases)
        sub.options = dict(self.options)
        sub.traps = {}
        sub.dirstack = list(self.dirstack)
        sub.positional_args = list(self.positional_args)
        sub.pending_err = []
        sub.persistent_fds = dict(self.persistent_fds)
        sub.is_subshell = True
        sub.loop_depth = 0
        sub.funcnames = list(self.funcnames)
        sub.call_lines = list(self.call_lines)
        sub.jobs = list(self.jobs)
        sub.job_status = dict(self.job_status)
        sub.hashed = {k: list(v) for k, v in self.hashed.items()}
        return sub

    def opt(self, name: str) -> bool:
        return self.options.get(name, False)

    def lookup_var(self, name: str) -> Var | None:
        for scope in reversed(self.scopes):
            v = scope.get(name)
            if v is not None:
                if self.namerefs and "n" in v.attrs:
                    target = self.resolve_ref(name)
                    return self.lookup_raw(target) if target != name else v
                return v
        return None

    def lookup_raw(self, name: str) -> Var | None:
        """The variable itself, a nameref not followed."""
        for scope in reversed(self.scopes):
            v = scope.get(name)
            if v is not None:
                return v
        return None

    def resolve_ref(self, name: str) -> str:
        """The name a chain of namerefs ends at (`declare -n r=x`: r -> x); may be `a[i]`."""
        if not self.namerefs:
            return name
        for _ in range(16):
            v = self.lookup_raw(name)
            if v is None or "n" not in v.attrs or not isinstance(v.value, str) or not v.value:
                return name
            name = v.value
            if "[" in name:
                return name
        raise ExpansionError(f"{name}: circular name reference")

    def special(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "#":
            return str(len(self.positional_args))
        if name == "$":
            return str(self.pid)
        if name == "!":
            return self.last_bg
        if name == "-":
            from .builtins import OPT_LETTERS
            from .options import is_on

            return "".join(c for c in "abefhkmnptuvxBCEHPT" if is_on(self, OPT_LETTERS[c]))
        if name == "0":
            return self.arg0
        if name.isdigit():
            i = int(name)
            return self.positional_args[i - 1] if i <= len(self.positional_args) else None
        if name in ("@", "*"):
            return " ".join(self.positional_args)
        return None

    def get_str(self, name: str) -> str | None:
        if not name:
            return None
        if self.namerefs and name[0] != "!":
            target = self.resolve_ref(name)
            if "[" in target and target.endswith("]"):
                i = target.index("[")
                return self._elem_str(target[:i], target[i + 1 : -1])
        if name not in _DYNAMIC and (name[0].isalpha() or name[0] == "_"):
            v = self.lookup_var(name)  # the common case: a plain variable
            if v is None or v.value is None:
                return None
            if isinstance(v.value, dict):
                return v.value.get(0 if "A" not in v.attrs else "0")
            return v.value
        if not (name[0].isalpha() or name[0] == "_"):
            return self.special(name)
        if name == "RANDOM":
            return str(random.randint(0, 32767))
        if name == "SECONDS":
            return str(int(time.monotonic() - self.start))
        if name == "LINENO":
            return str(self.lineno)
        if name == "PIPESTATUS":
            return str(self.pipestatus[0])
        if name in _CALL_STACK:
            vals = self.call_stack(name)
            return vals[0] if vals else None
        v = self.lookup_var(name)
        if v is None or v.value is None:
            return None
        if isinstance(v.value, dict):
            return v.value.get(0 if "A" not in v.attrs else "0")
        return v.value

    def is_set(self, name: str) -> bool:
        v = self.lookup_var(name)
        return v is not None and v.value is not None

    def positional(self) -> list[str]:
        return list(self.positional_args)

    def ifs(self) -> str:
        v = self.lookup_var("IFS")
        if v is None or v.value is None:
            return " \t\n"
        return v.value if isinstance(v.value, str) else ""

    def all_var_names(self, prefix: str) -> list[str]:
        names: set[str] = set()
        for s in self.scopes:
            names.update(k for k, v in s.items() if k.startswith(prefix) and v.value is not None)
        return list(names)

    def var_attrs(self, name: str) -> str:
        v = self.lookup_var(name)
        if v is None:
            return ""
        return "".join(
            c
            for c in "aAilrux"
            if c in v.attrs or (c == "a" and isinstance(v.value, dict) and "A" not in v.attrs)
        )

    def check_readonly(self, name: str) -> None:
        v = self.lookup_var(name)
        if v is not None and "r" in v.attrs:
            raise ExpansionError(f"{name}: readonly variable")

    def _scope_for(self, name: str) -> dict[str, Var]:
        if self.namerefs:
            name = self.resolve_ref(name)
        for scope in reversed(self.scopes):
            if name in scope:
                return scope
        return self.scopes[0]

    def set_var(self, name: str, value: str, append: bool = False) -> None:
        if self.namerefs:
            name = self.resolve_ref(name)
            if "[" in name and name.endswith("]"):
                i = name.index("[")
                return self.set_elem(name[:i], name[i + 1 : -1], value, append)
        # one walk of the scopes does check_readonly's and _scope_for's work
        v: Var | None = None
        for scope in reversed(self.scopes):
            v = scope.get(name)
            if v is not None:
                break
        else:
            scope = self.scopes[0]
        if v is not None and "r" in v.attrs:
            raise ExpansionError(f"{name}: readonly variable")
        if v is None:
            v = scope[name] = Var(None, "x" if self.opt("allexport") else "")
        if "i" in v.attrs:
            value = (
                str(self.arith(value))
                if not append
                else str(self.arith(f"({self._scalar(v)})+({value})"))
            )
            append = False
        if isinstance(v.value, dict):
            key: Any = "0" if "A" in v.attrs else 0
            v.value[key] = (v.value.get(key, "") + value) if append else value
        else:
            v.value = ((v.value or "") + value) if append else value
        if "l" in v.attrs and isinstance(v.value, str):
            v.value = v.value.lower()
        if "u" in v.attrs and isinstance(v.value, str):
            v.value = v.value.upper()
        if name == "PWD" and False:
            pass

    @staticmethod
    def _scalar(v: Var) -> str:
        if isinstance(v.value, dict):
            return str(v.value.get(0, v.value.get("0", "")))
        return v.value or "0"

    def unset_var(self, name: str, ref: bool = False) -> None:
        """unset NAME: the variable a nameref names, or with `ref` (`unset -n`) the ref."""
        if self.namerefs and not ref:
            name = self.resolve_ref(name)
        for scope in reversed(self.scopes):
            if name in scope:
                if "r" in scope[name].attrs:
                    raise ExpansionError(f"unset: {name}: cannot unset: readonly variable")
                del scope[name]
                return

    def get_array(self, name: str, create: bool = False, assoc: bool = False) -> Var | None:
        v = self.lookup_var(name)
        if v is None:
            if not create:
                return None
            v = self._scope_for(name)[name] = Var({}, "A" if assoc else "a")
        if not isinstance(v.value, dict):
            if not create:
                return v
            v.value = {} if v.value is None else {("0" if "A" in v.attrs else 0): v.value}
            if "A" not in v.attrs:
                v.attrs.add("a")
        return v

    def index_text(self, index: str) -> str:
        """Expand a raw subscript (quotes removed, parameters expanded)."""
        if not any(c in index for c in "$`'\"\\"):
            return index
        w = _INDEX_CACHE.get(index)
        if w is None:
            p = Parser(index + "\x00")
            try:
                w = _INDEX_CACHE[index] = A.Word(p.read_param_arg("\x00"))
            except ParseError as e:
                raise ExpansionError(f"{index}: {e.msg}") from None
        return self.expand_str(w)

    def _index(self, v: Var | None, index: str, write: bool = False) -> Any:
        """The key of v[index]; a negative index counts from the end. Out of range it is
        an error when assigning and None (no element) when reading."""
        if v is not None and "A" in v.attrs:
            return self.index_text(index)
        i = self.arith(self.index_text(index))
        if i < 0:
            val = v.value if v is not None else None
            i += (max(val) + 1 if val else 0) if isinstance(val, dict) else 1 if val else 0
            if i < 0:
                if write:
                    raise ExpansionError(f"{index}: bad array subscript")
                return None
        return i

    def get_elem(self, name: str, index: str) -> str | None:
        if name in _CALL_STACK and index.isdigit():
            vals = self.call_stack(name)
            return vals[int(index)] if int(index) < len(vals) else None
        v = self.lookup_var(name)
        if name in ("@", "*"):
            return None
        if v is None or v.value is None:
            if v is None:
                self._index(None, index)
            return None
        key = self._index(v, index)
        if isinstance(v.value, dict):
            return v.value.get(key)
        return v.value if key in (0, "0") else None

    def set_elem(self, name: str, index: str, value: str, append: bool = False) -> None:
        if self.namerefs:
            name = self.resolve_ref(name)
        self.check_readonly(name)
        v = self.get_array(name, create=True)
        assert v is not None and isinstance(v.value, dict)
        key = self._index(v, index, True)
        if append:
            value = v.value.get(key, "") + value
        if "i" in v.attrs:
            value = str(self.arith(value))
        v.value[key] = value

    def call_stack(self, name: str) -> list[str]:
        """FUNCNAME, BASH_SOURCE, BASH_LINENO: innermost call first, `main` at the bottom."""
        if name == "FUNCNAME":
            return [*reversed(self.funcnames), "main"] if self.funcnames else []
        if name == "BASH_LINENO":
            return [*(str(n) for n in reversed(self.call_lines)), "0"]
        src = self.errname if self.errname != "bash" else ""
        return [src] * (len(self.funcnames) + 1) if src else []

    def array_values(self, name: str) -> list[str]:
        if name == "PIPESTATUS":
            return [str(s) for s in self.pipestatus]
        if name in _CALL_STACK:
            return self.call_stack(name)
        v = self.lookup_var(name)
        if v is None or v.value is None:
            return []
        if isinstance(v.value, dict):
            if "A" in v.attrs:
                return list(v.value.values())
            return [v.value[k] for k in sorted(v.value)]
        return [v.value]

    def array_keys(self, name: str) -> list[str]:
        if name in _CALL_STACK:
            return [str(i) for i in range(len(self.call_stack(name)))]
        v = self.lookup_var(name)
        if v is None or v.value is None:
            return []
        if isinstance(v.value, dict):
            return [str(k) for k in (v.value if "A" in v.attrs else sorted(v.value))]
        return ["0"]

    # arithmetic variable protocol
    def arith_get(self, name: str, index: str | None) -> str:
        if index is not None:
            r = self.get_elem(name, index)
        else:
            r = self.get_str(name)
        if r is None and self.opt("nounset"):
            raise ExpansionError(f"{name}: unbound variable", fatal=True)
        return r or ""

    def arith_set(self, name: str, index: str | None, value: int) -> None:
        if index is not None:
            self.set_elem(name, index, str(value))
        else:
            self.set_var(name, str(value))

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for scope in self.scopes:
            for k, v in scope.items():
                if "x" in v.attrs and isinstance(v.value, str):
                    out[k] = v.value
                elif k in out and v.value is None:
                    del out[k]
        return out

    def resolve(self, path: str) -> str:
        return os.path.join(self.cwd, path)

    # ---------------------------------------------------------------- running
    def run_source(self, src: str, inp: Input, name: str = "") -> Gen:
        """Parse and execute line by line (aliases, and partial execution before a syntax error)."""
        single = _PARSED.get(src) if not self.aliases else None
        if single is not None:  # parsed before, to one command, with no aliases then or now
            return (yield from self._run_node(single, inp, 0))
        parser = Parser(src, self.aliases, self.options["extglob"])
        status = 0
        first: Any = None
        count = 0
        while True:
            cacheable = not self.aliases and len(src) <= PARSED_MAX_SOURCE
            parser.extglob = self.options["extglob"]  # `shopt -s extglob` on an earlier line
            try:
                node = parser.parse_next()
            except ParseError as e:
                yield (2, enc(e.report(self.errname, src)))
                self.status = 2
                raise ExitShell(2) from None
            if node is None:
                if count == 1 and first is not None:
                    if len(_PARSED) >= PARSED_MAX:
                        _PARSED.clear()
                    _PARSED[src] = first
                return status
            count += 1
            first = node if count == 1 and cacheable else None
            status = yield from self._run_node(node, inp, status)

    def _run_node(self, node: A.CmdList, inp: Input, status: int) -> Gen:
        """Run one top-level command of run_source; its status (`status` if none)."""
        try:
            status = yield from self.exec_list(node, inp)
        except AbortCommand as e:
            status = self.status = e.status
        except ExpansionError as e:
            yield from self.flush_err()
            yield (2, enc(f"{self.errname}: line {self.lineno}: {e}\n"))
            if e.fatal:
                raise ExitShell(e.status) from None
            status = self.status = e.status
        return status

    @staticmethod
    def abandon(e: ExpansionError) -> ControlFlow:
        """What an expansion error does: exit the shell, or abandon the top-level command."""
        return ExitShell(e.status) if e.fatal else AbortCommand(e.status)

    def flush_err(self) -> Iterator[tuple[int, bytes]]:
        while self.pending_err:
            yield self.pending_err.pop(0)

    def exec_list(self, node: A.CmdList, inp: Input) -> Gen:
        status = self.status
        for item, bg in node.items:
            self.budget.tick()
            if bg:
                yield from start_job(self, item, inp)
                status = self.status = 0
                continue
            self._ao_early = False
            status = yield from self.exec_node(item, inp)
            if type(item) is not A.Pipeline and type(item) is not A.AndOr:
                self.pipestatus = [status]
            self.status = status
            if (
                status != 0
                and self.opt("errexit")
                and not self.suppress_errexit
                and not self._ao_early
                and not (isinstance(item, A.Pipeline) and item.negate)
            ):
                yield from self.run_trap("ERR", inp)
                raise ExitShell(status)
            elif status != 0 and "ERR" in self.traps and not self.suppress_errexit:
                yield from self.run_trap("ERR", inp)
        return status

    def run_trap(self, name: str, inp: Input) -> Gen:
        code = self.traps.get(name)
        if not code:
            return 0
        saved = self.status
        if name == "ERR":
            self.traps.pop("ERR")
        try:
            yield from self.run_source(code, inp)
        finally:
            if name == "ERR":
                self.traps["ERR"] = code
        self.status = saved
        return saved

    def run_subshell(self, node: Any, inp: Input) -> Gen:
        """Run node in this (already forked) interpreter, turning exit into a status."""
        cwd = os.getcwd() if False else None
        try:
            status = yield from self.exec_node(node, inp)
        except (ExitShell, AbortCommand) as e:
            status = e.status
        except (BreakLoop, ContinueLoop):
            status = self.status
        except ReturnFn as e:
            status = e.status
        except ExpansionError as e:
            yield (2, enc(f"bash: {e}\n"))
            status = e.status
        try:
            if "EXIT" in self.traps:
                self.status = status
                yield from self.run_trap("EXIT", inp)
        except ControlFlow:
            pass
        del cwd
        return status

    def exec_node(self, node: Any, inp: Input) -> Gen:
        t = type(node)
        if t is A.Simple:
            return (yield from self.exec_simple(node, inp))
        if t is A.Pipeline:
            return (yield from self.exec_pipeline(node, inp))
        if t is A.AndOr:
            return (yield from self.exec_andor(node, inp))
        if t is A.CmdList:
            return (yield from self.exec_list(node, inp))
        if t is A.Redirected:
            return (
                yield from self.with_redirs(
                    node.redirs, inp, lambda i: self.exec_node(node.node, i)
                )
            )
        if t is A.Group:
            return (yield from self.exec_list(node.body, inp))
        if t is A.Subshell:
            sub = self.fork()
            st = yield from sub.run_subshell(node.body, inp)
            return st
        if t is A.If:
            for cond, body in node.clauses:
                self.suppress_errexit += 1
                try:
                    c = yield from self.exec_list(cond, inp)
                finally:
                    self.suppress_errexit -= 1
                if c == 0:
                    return (yield from self.exec_list(body, inp))
            if node.else_ is not None:
                return (yield from self.exec_list(node.else_, inp))
            return 0
        if t is A.While:
            return (yield from self.exec_while(node, inp))
        if t is A.For:
            return (yield from self.exec_for(node, inp))
        if t is A.CFor:
            return (yield from self.exec_cfor(node, inp))
        if t is A.Case:
            return (yield from self.exec_case(node, inp))
        if t is A.FuncDef:
            if (
                node.name
                in (
                    "break",
                    "continue",
                    "return",
                    "exit",
                    "eval",
                    "export",
                    "readonly",
                    "set",
                    "shift",
                    "unset",
                    ".",
                    ":",
                    "exec",
                    "trap",
                )
                and False
            ):
                pass
            self.functions[node.name] = node.body
            return 0
        if t is A.DParen:
            self.lineno = node.line
            try:
                v = self.arith(self.expand_str(node.expr))
            except ExpansionError as e:
                yield from self.flush_err()
                yield (2, enc(f"{self.errname}: line {node.line}: {e}\n"))
                if e.fatal:
                    raise ExitShell(e.status) from None
                return 1
            yield from self.flush_err()
            return 0 if v else 1
        if t is A.DBracket:
            self.lineno = node.line
            try:
                r = self.eval_dbracket(node.expr)
            except ExpansionError as e:
                yield from self.flush_err()
                yield (2, enc(f"{self.errname}: line {node.line}: {e}\n"))
                if e.fatal:
                    raise ExitShell(e.status) from None
                return 2 if "regular expression" in str(e) else 1
            yield from self.flush_err()
            return 0 if r else 1
        raise RuntimeError(f"unknown node {node!r}")

    def exec_andor(self, node: A.AndOr, inp: Input) -> Gen:
        self.suppress_errexit += 1
        try:
            status = yield from self.exec_node(node.first, inp)
        finally:
            self.suppress_errexit -= 1
        self.status = status
        n = len(node.rest)
        for i, (op, pipe) in enumerate(node.rest):
            if (op == "&&") != (status == 0):
                self._ao_early = True
                continue
            last = i == n - 1
            if not last:
                self.suppress_errexit += 1
            try:
                status = yield from self.exec_node(pipe, inp)
            finally:
                if not last:
                    self.suppress_errexit -= 1
            self._ao_early = not last
            self.status = status
        return status

    def exec_pipeline(self, node: A.Pipeline, inp: Input) -> Gen:
        cmds = node.cmds
        if node.negate:
            self.suppress_errexit += 1
        try:
            if len(cmds) == 1:
                st = yield from self.exec_node(cmds[0], inp)
                statuses = [st]
            else:
                statuses = yield from self._pipe(cmds, inp)
        finally:
            if node.negate:
                self.suppress_errexit -= 1
        self.pipestatus = statuses
        st = statuses[-1]
        if self.opt("pipefail"):
            for s in reversed(statuses):
                if s != 0:
                    st = s
                    break
        if node.negate:
            return 0 if st else 1
        return st

    def _pipe(self, cmds: list[Any], inp: Input) -> Gen:  # type: ignore[misc]
        n = len(cmds)
        side: list[tuple[int, bytes]] = []
        statuses: list[int | None] = [None] * n
        gens: list[Any] = []
        cur = inp

        def stage_out(i: int, g: Any) -> Iterator[bytes]:
            try:
                while True:
                    fd, data = next(g)
                    if fd == 1:
                        yield data
                    else:
                        side.append((fd, data))
            except StopIteration as e:
                statuses[i] = e.value if isinstance(e.value, int) else 0

        for i, cmd in enumerate(cmds):
            last = i == n - 1
            sub = self if (last and self.opt("lastpipe")) else self.fork()
            g = sub.run_subshell(cmd, cur)
            gens.append(g)
            if not last:
                cur = Input(stage_out(i, g))
        g = gens[-1]
        try:
            while True:
                item = next(g)
                if side:
                    yield from self._drain_side(side)
                yield item
        except StopIteration as e:
            statuses[-1] = e.value if isinstance(e.value, int) else 0
        # consumer is gone: let producers finish, killing them (SIGPIPE) once a pipe
        # buffer overflows
        for i in range(n - 2, -1, -1):
            if statuses[i] is not None:
                continue
            g = gens[i]
            dropped = 0
            try:
                while True:
                    fd, data = next(g)
                    if fd == 1:
                        dropped += len(data)
                        if dropped > 65536:
                            g.close()
                            statuses[i] = 141
                            break
                    else:
                        side.append((fd, data))
                    if side:
                        yield from self._drain_side(side)
            except StopIteration as e:
                statuses[i] = e.value if isinstance(e.value, int) else 0
            if statuses[i] is None:
                statuses[i] = 141
        yield from self._drain_side(side)
        return [s if s is not None else 0 for s in statuses]

    @staticmethod
    def _drain_side(side: list[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
        while side:
            yield side.pop(0)

    def loop_pass(
        self, body: A.CmdList, inp: Input
    ) -> Generator[tuple[int, bytes], None, tuple[str | None, int]]:
        """Run a loop's condition or body once: ("break"/"continue" or None, its status,
        which is the `break`'s or `continue`'s when one cut it short). `break N`/`continue N`
        aimed at an outer loop go on out, one level fewer."""
        try:
            return None, (yield from self.exec_list(body, inp))
        except (BreakLoop, ContinueLoop) as e:
            if e.n > 1:
                e.n -= 1
                raise
            return ("break" if isinstance(e, BreakLoop) else "continue"), e.status

    def exec_while(self, node: A.While, inp: Input) -> Gen:
        status = 0
        self.loop_depth += 1
        try:
            while True:
                self.budget.tick()
                self.suppress_errexit += 1
                try:
                    action, c = yield from self.loop_pass(node.cond, inp)
                finally:
                    self.suppress_errexit -= 1
                if action is not None:
                    status = c
                    if action == "break":
                        break
                    continue
                if (c == 0) == node.until:
                    break
                action, status = yield from self.loop_pass(node.body, inp)
                if action == "break":
                    break
        finally:
            self.loop_depth -= 1
        return status

    def exec_for(self, node: A.For, inp: Input) -> Gen:
        if node.line:
            self.lineno = node.line
        if not is_name(node.var):
            yield (
                2,
                enc(f"{self.errname}: line {self.lineno}: `{node.var}': not a valid identifier\n"),
            )
            raise AbortCommand(1)
        if node.words is None:
            items = self.positional()
        else:
            try:
                items = self.expand_words(node.words)
            except ExpansionError as e:
                yield from self.flush_err()
                yield (2, enc(f"{self.errname}: line {self.lineno}: {e}\n"))
                raise self.abandon(e) from None
            yield from self.flush_err()
        if node.select:
            return (yield from self.exec_select(node, items, inp))
        status = 0
        self.loop_depth += 1
        try:
            ref = self.lookup_raw(node.var) if self.namerefs else None
            trace = " ".join(shell_quote(x) for x in items) if self.opt("xtrace") else None
            for it in items:
                self.budget.tick()
                if trace is not None:
                    yield self.trace_line(f"for {node.var} in {trace}")
                if ref is not None and "n" in ref.attrs:  # a nameref loop var follows each name
                    ref.value = it
                else:
                    self.set_var(node.var, it)
                action, status = yield from self.loop_pass(node.body, inp)
                if action == "break":
                    break
        finally:
            self.loop_depth -= 1
        return status

    def exec_select(self, node: A.For, items: list[str], inp: Input) -> Gen:
        """bash's `select`: the menu and PS3 on stderr, a line of stdin into REPLY; EOF ends it."""
        width = len(str(len(items)))
        menu = "".join(f"{i:>{width}}) {it}\n" for i, it in enumerate(items, 1))
        status, show = 0, True
        self.loop_depth += 1
        try:
            while items:
                self.budget.tick()
                if show:
                    yield (2, enc(menu))
                yield (2, enc(self.get_str("PS3") or "#? "))
                line = inp.readline()
                if not line:
                    yield (2, b"\n")
                    return 1
                reply = dec(line).rstrip("\n")
                self.set_var("REPLY", reply)
                show = not reply
                if not reply:
                    continue
                n = int(reply) if reply.strip().isdigit() else 0
                self.set_var(node.var, items[n - 1] if 0 < n <= len(items) else "")
                action, status = yield from self.loop_pass(node.body, inp)
                if action == "break":
                    break
        finally:
            self.loop_depth -= 1
        return status

    def exec_cfor(self, node: A.CFor, inp: Input) -> Gen:
        status = 0
        trace = self.opt("xtrace")
        if node.init:
            if trace:
                yield self.trace_line(f"(( {self._word_text(node.init)} ))")
            self.arith(self.expand_str(node.init))
        self.loop_depth += 1
        try:
            while True:
                self.budget.tick()
                if trace:
                    yield self.trace_line(f"(( {self._word_text(node.cond)} ))")
                if node.cond and not self.arith(self.expand_str(node.cond)):
                    break
                action, status = yield from self.loop_pass(node.body, inp)
                if action == "break":
                    break
                if node.step:
                    if trace:
                        yield self.trace_line(f"(( {self._word_text(node.step)} ))")
                    self.arith(self.expand_str(node.step))
        finally:
            self.loop_depth -= 1
        return status

    def exec_case(self, node: A.Case, inp: Input) -> Gen:
        word = self.expand_str(node.word)
        yield from self.flush_err()
        if self.opt("xtrace"):
            yield self.trace_line(f"case {shell_quote(word)} in")
        status = 0
        fall = False
        for pats, body, term in node.items:
            if not fall:
                matched = any(P.match(self.expand_pattern(p), word) for p in pats)
                yield from self.flush_err()
                if not matched:
                    continue
            status = yield from self.exec_list(body, inp)
            if term == ";&":
                fall = True
                continue
            fall = False
            if term == ";;&":
                continue
            return status
        return status

    # ---------------------------------------------------------------- [[ ]]
    def eval_dbracket(self, e: Any) -> bool:
        k = e[0]
        if k == "and":
            return self.eval_dbracket(e[1]) and self.eval_dbracket(e[2])
        if k == "or":
            return self.eval_dbracket(e[1]) or self.eval_dbracket(e[2])
        if k == "not":
            return not self.eval_dbracket(e[1])
        if k == "word":
            return self.expand_str(e[1]) != ""
        from .builtins import unary_test

        if k == "un":
            op = e[1]
            if op == "-v":
                name = self.expand_str(e[2])
                if "[" in name and name.endswith("]"):
                    return (
                        self.get_elem(name[: name.index("[")], name[name.index("[") + 1 : -1])
                        is not None
                    )
                return self.is_set(name)
            return unary_test(self, op, self.expand_str(e[2]))
        op, lw, rw = e[1], e[2], e[3]
        left = self.expand_str(lw)
        if op in ("==", "=", "!="):
            r = P.match(self.expand_pattern(rw, True), left)
            return r if op != "!=" else not r
        if op == "=~":
            rx = self.expand_regex(rw)
            try:
                m = re.search(rx, left)
            except re.error:
                raise ExpansionError("regular expression syntax error") from None
            if m:
                groups = [m.group(0)] + [g or "" for g in m.groups()]
                self.scopes[0]["BASH_REMATCH"] = Var({i: g for i, g in enumerate(groups)}, "a")
                return True
            self.scopes[0]["BASH_REMATCH"] = Var({}, "a")
            return False
        right = self.expand_str(rw)
        if op == "<":
            return left < right
        if op == ">":
            return left > right
        from .builtins import binary_test

        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            a, b = self.arith(left), self.arith(right)
            return {
                "-eq": a == b,
                "-ne": a != b,
                "-lt": a < b,
                "-le": a <= b,
                "-gt": a > b,
                "-ge": a >= b,
            }[op]
        return binary_test(self, op, left, right)

    # ---------------------------------------------------------------- redirects
    def with_redirs(self, redirs: list[A.Redir], inp: Input, body: Callable[[Input], Gen]) -> Gen:
        fdmap: dict[int, Any] = {}
        opened: list[Sink] = []
        try:
            for r in redirs:
                inp = self.apply_redir(r, inp, fdmap, opened)
        except (OSError, ExpansionError) as e:
            for s in opened:
                s.close()
            yield from self.flush_err()
            yield (2, enc(f"{self.errname}: line {self.lineno}: {e}\n"))
            return 1
        yield from self.flush_err()
        in_fds = {k: v for k, v in fdmap.items() if isinstance(v, tuple)}
        if in_fds:
            for k in in_fds:
                del fdmap[k]
            saved_fds = dict(self.persistent_fds)
            self.persistent_fds.update(in_fds)
            try:
                return (
                    yield from self.with_redirs(
                        [], inp, lambda i: self._mapped(fdmap, opened, body, i)
                    )
                )
            finally:
                self.persistent_fds.clear()
                self.persistent_fds.update(saved_fds)
        return (yield from self._mapped(fdmap, opened, body, inp))

    def _mapped(
        self, fdmap: dict[int, Any], opened: list[Sink], body: Callable[[Input], Gen], inp: Input
    ) -> Gen:
        if not fdmap:
            try:
                return (yield from body(inp))
            finally:
                for s in opened:
                    s.close()
        g = body(inp)
        try:
            while True:
                fd, data = next(g)
                t = fdmap.get(fd, fd)
                if isinstance(t, Sink):
                    t.write(data)
                elif t is None:
                    pass
                else:
                    yield (t, data)
        except StopIteration as e:
            return e.value if isinstance(e.value, int) else 0
        finally:
            g.close()
            for s in opened:
                s.close()

    def redir_fd(self, r: A.Redir, default: int, target: str) -> int:
        """The descriptor a redirection acts on; {name}> picks a free one (10 on) and sets
        name to it, {name}>&- closes the one name holds."""
        if r.fd_var is None:
            return r.fd if r.fd is not None else default
        if target == "-":
            v = self.get_str(r.fd_var) or ""
            if not v.isdigit():
                raise OSError(f"{r.fd_var}: ambiguous redirect")
            return int(v)
        fd = 10
        while fd in self.persistent_fds:
            fd += 1
        self.set_var(r.fd_var, str(fd))
        return fd

    def exec_redirs(self, redirs: list[A.Redir], inp: Input) -> Gen:
        """`exec` with only redirections: change this shell's descriptor table permanently."""
        pf = self.persistent_fds
        for r in redirs:
            try:
                target = self.expand_str(r.target) if r.target is not None else ""
                op = r.op
                if op in ("<<", "<<-", "<<<"):
                    continue
                if op == "<&" and not (target == "-" or target.rstrip("-").isdigit()):
                    raise OSError(f"{target}: ambiguous redirect")
                if op in (">&", "<&") and (target == "-" or target.rstrip("-").isdigit()):
                    fd = self.redir_fd(r, 1 if op == ">&" else 0, target)
                    if target == "-":
                        old = pf.pop(fd, None)
                        if isinstance(old, Sink) and old not in pf.values():
                            old.close()
                        continue
                    src = int(target.rstrip("-"))
                    if src not in (0, 1, 2) and src not in pf:
                        raise OSError(f"{src}: Bad file descriptor")
                    pf[fd] = pf.get(src, src)
                    if target.endswith("-"):
                        pf.pop(src, None)
                    continue
                if op in ("<", "<>"):
                    fd = self.redir_fd(r, 0, target)
                    path = self.resolve(target)
                    if op == "<>" and not os.path.exists(path):
                        open(path, "wb").close()
                    from .commands.util import is_fifo, read_fifo

                    if is_fifo(path):
                        pf[fd] = ("in", Input(read_fifo(path)))
                        continue
                    with open(path, "rb") as f:
                        pf[fd] = ("in", Input(f.read()))
                    continue
                if op in ("&>", "&>>"):
                    s = self.open_sink(target, "a" if op == "&>>" else "w")
                    pf[1] = pf[2] = s
                    continue
                fd = self.redir_fd(r, 1, target)
                pf[fd] = self.open_sink(target, "a" if op == ">>" else "f" if op == ">|" else "w")
            except (OSError, ExpansionError) as e:
                yield (2, enc(f"{self.errname}: line {self.lineno}: {e}\n"))
                return 1
        return 0

    def open_sink(self, path: str, mode: str) -> Sink:
        if path == "/dev/null":
            return Sink(None)
        if (
            mode == "w"
            and self.opt("noclobber")
            and os.path.exists(self.resolve(path))
            and not os.path.samefile(self.resolve(path), "/dev/null")
        ):
            raise OSError(f"{path}: cannot overwrite existing file")
        from .commands.util import is_fifo

        try:
            if is_fifo(self.resolve(path)):  # no reader can be waiting: do not block in open
                fd = os.open(self.resolve(path), os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
                return Sink(os.fdopen(fd, "wb"))
            return Sink(open(self.resolve(path), ("w" if mode == "f" else mode) + "b"))
        except OSError as e:
            msg = _OPEN_ERRORS.get(e.errno or 0)
            if msg is None:
                raise
            raise OSError(f"{path}: {msg}") from None

    def apply_redir(
        self, r: A.Redir, inp: Input, fdmap: dict[int, Any], opened: list[Sink]
    ) -> Input:
        op = r.op
        if op in ("<<", "<<-"):
            body = self.expand_str(r.heredoc) if r.heredoc is not None else ""
            if (r.fd or 0) == 0:
                return Input(enc(body))
            fdmap[r.fd] = ("in", Input(enc(body)))
            return inp
        if op == "<<<":
            return Input(enc(self.expand_str(r.target) + "\n"))
        assert r.target is not None
        fields = self.expand_word(r.target)
        if len(fields) != 1:
            raise OSError(f"{self.expand_str(r.target)}: ambiguous redirect")
        target = fields[0]

        def cur(fd: int) -> Any:
            if fd in fdmap:
                return fdmap[fd]
            return fd

        if op in (">&", "<&"):
            fd = self.redir_fd(r, 1 if op == ">&" else 0, target)
            if op == "<&" and fd != 0:
                op = ">&"
            if target == "-":
                fdmap[fd] = None
                return inp
            move = target.endswith("-") and target[:-1].isdigit()
            if move:
                target = target[:-1]
            if target.isdigit():
                src = int(target)
                if op == "<&":
                    p = self.persistent_fds.get(src)
                    if isinstance(p, tuple) and p[0] == "in":
                        return p[1]
                    return inp
                if src not in (0, 1, 2) and src not in self.persistent_fds and src not in fdmap:
                    raise OSError(f"{src}: Bad file descriptor")
                fdmap[fd] = cur(src)
                if move:
                    fdmap[src] = None
                return inp
            if op == ">&":
                s = self.open_sink(target, "w")
                opened.append(s)
                fdmap[fd] = s
                if r.fd is None and r.fd_var is None:
                    fdmap[2] = s
                return inp
            raise OSError(f"{target}: ambiguous redirect")
        if op in ("<", "<>"):
            fd = self.redir_fd(r, 0, target)
            path = self.resolve(target)
            if op == "<>" and not os.path.exists(path):
                open(path, "wb").close()
            if fd != 0:
                with open(path, "rb") as f:
                    fdmap[fd] = ("in", Input(f.read()))
                return inp
            if target == "/dev/null":
                return Input(b"")
            if target in ("/dev/stdin", "/dev/fd/0"):
                return inp
            try:
                with open(path, "rb") as f:
                    return Input(f.read())
            except FileNotFoundError:
                raise OSError(f"{target}: No such file or directory") from None
            except IsADirectoryError:
                raise OSError(f"{target}: Is a directory") from None
        if op in ("&>", "&>>"):
            s = self.open_sink(target, "a" if op == "&>>" else "w")
            opened.append(s)
            fdmap[1] = s
            fdmap[2] = s
            return inp
        fd = self.redir_fd(r, 1, target)
        if target in ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2"):
            fdmap[fd] = cur(2 if target.endswith(("stderr", "2")) else 1)
            return inp
        s = self.open_sink(target, "a" if op == ">>" else "f" if op == ">|" else "w")
        if op == ">|" and False:
            pass
        opened.append(s)
        fdmap[fd] = s
        return inp

    # ---------------------------------------------------------------- simple commands
    def command_sub(self, node: Any) -> str:
        items = node.items if type(node) is A.CmdList else None
        if items and len(items) == 1 and type(items[0][0]) is A.Simple and not items[0][1]:
            c = items[0][0]
            if not c.words and not c.assigns and len(c.redirs) == 1:
                r = c.redirs[0]
                if (
                    r.op == "<"
                    and r.fd in (None, 0)
                    and r.target is not None
                    and not (r.target.unquoted_literal() or "").startswith("/dev/")
                ):
                    return self._read_file_sub(self.expand_str(r.target))
        sub = self.fork()
        out: list[bytes] = []
        size = 0
        g = sub.run_subshell(node, self.cur_inp)
        try:
            while True:
                fd, data = next(g)
                if fd == 1:
                    out.append(data)
                    size += len(data)
                    if size > MAX_BUFFER:
                        g.close()
                        raise ExpansionError("command substitution: output exceeds buffering limit")
                else:
                    self.pending_err.append((fd, data))
        except StopIteration as e:
            self.status = e.value if isinstance(e.value, int) else 0
        self.last_cmdsub_status = self.status
        return dec(b"".join(out)).rstrip("\n")

    def _read_file_sub(self, path: str) -> str:
        """`$(<file)`: the file's text, without running a command."""
        try:
            with open(self.resolve(path), "rb") as f:
                data = f.read(MAX_BUFFER + 1)
        except OSError as e:
            self.pending_err.append((2, enc(f"bash: {path}: {e.strerror}\n")))
            self.status = self.last_cmdsub_status = 1
            return ""
        if len(data) > MAX_BUFFER:
            raise ExpansionError("command substitution: output exceeds buffering limit")
        self.status = self.last_cmdsub_status = 0
        return dec(data).rstrip("\n")

    def proc_sub(self, node: Any) -> str:
        """Run node to completion and hand back a temp file path with its output."""
        import tempfile

        sub = self.fork()
        out: list[bytes] = []
        g = sub.run_subshell(node, Input(b""))
        try:
            while True:
                fd, data = next(g)
                if fd == 1:
                    out.append(data)
                else:
                    self.pending_err.append((fd, data))
        except StopIteration:
            pass
        fd, path = tempfile.mkstemp(prefix="procsub-", dir=self.get_str("TMPDIR") or None)
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(out))
        return path

    def assign(self, a: A.Assign, local_scope: dict[str, Var] | None = None) -> None:
        if self.namerefs and local_scope is None and self.resolve_ref(a.name) != a.name:
            a = dataclasses.replace(a, name=self.resolve_ref(a.name))
        if a.error:
            line, first, src = a.error.split("\n", 2)
            self.lineno = int(line)
            raise ExpansionError(f"{first}\n{self.errname}: line {line}: {src}")
        if a.array is not None:
            if a.index is not None:
                raise ExpansionError(f"{a.name}[{a.index}]: cannot assign list to array member")
            if local_scope is not None:  # B=(b b) cmd: the command sees the text
                local_scope[a.name] = Var(a.raw, "x")
                return
            v = self.lookup_var(a.name)
            assoc = v is not None and "A" in v.attrs
            evaluated: list[tuple[Any, Any]] = []
            for key, w in a.array:
                if key is not None:
                    evaluated.append(
                        (
                            self.index_text(key)
                            if assoc
                            else self._index(
                                v
                                if v is not None and isinstance(v.value, dict) and a.append
                                else None,
                                key,
                                True,
                            ),
                            self.expand_str(w),
                        )
                    )
                else:
                    evaluated.append((None, self.expand_word(w)))
            if v is not None and "r" in v.attrs:
                raise ExpansionError(f"{a.name}: readonly variable")
            if v is None or not a.append or not isinstance(v.value, dict):
                old = v.value if (v is not None and a.append and isinstance(v.value, str)) else None
                scope = local_scope if local_scope is not None else self._scope_for(a.name)
                attrs = set(v.attrs) if v is not None else set()
                nv = Var({}, "")
                nv.attrs = (attrs - {"a", "A"}) | {"A" if assoc else "a"}
                if old is not None:
                    nv.value[0] = old
                scope[a.name] = nv
                v = nv
            assert isinstance(v.value, dict)
            nxt = (max(v.value) + 1 if v.value else 0) if not assoc else 0
            for key, w in evaluated:
                if key is not None:
                    v.value[key] = w
                    if not assoc:
                        nxt = key + 1
                    continue
                if assoc:
                    continue
                for val in w:
                    v.value[nxt] = val
                    nxt += 1
            return
        val = self.expand_str(a.value)
        if a.index is not None:
            self.set_elem(a.name, a.index, val, a.append)
        else:
            if local_scope is not None:
                local_scope[a.name] = Var(val, "x")
            else:
                self.set_var(a.name, val, a.append)

    def xtrace(self, argv: list[str]) -> Iterator[tuple[int, bytes]]:
        if self.opt("xtrace"):
            yield self.trace_line(" ".join(shell_quote(a) for a in argv))

    def trace_line(self, text: str, ps4: str | None = None) -> tuple[int, bytes]:
        """One `set -x` line: PS4 expanded (`+${LINENO}: `), then the command as run."""
        if ps4 is None:
            ps4 = self.get_str("PS4") or ""
        if "$" in ps4 or "`" in ps4:
            try:
                ps4 = self.expand_str(Parser(ps4).sub_word(ps4))
            except (ExpansionError, ParseError):
                pass
        return (2, enc(ps4 + text + "\n"))

    @staticmethod
    def _word_text(w: A.Word | None) -> str:
        return "".join(p.text for p in w.parts if isinstance(p, A.Lit)).lstrip() if w else ""

    def exec_simple(self, node: A.Simple, inp: Input) -> Gen:
        self.lineno = node.line
        self.budget.tick()
        self.cur_inp = inp
        self.last_cmdsub_status = None
        try:
            argv = self.expand_argv(node.words)
        except ExpansionError as e:
            yield from self.flush_err()
            yield (2, enc(f"{self.errname}: line {node.line}: {e}\n"))
            raise self.abandon(e) from None
        yield from self.flush_err()
        if not argv:
            try:
                for a in node.assigns:
                    ps4 = self.get_str("PS4") if self.opt("xtrace") else None
                    self.assign(a)
                    if ps4 is not None:  # traced as assigned, under the PS4 before it
                        val = shell_quote(self.get_str(a.name) or "")
                        yield self.trace_line(f"{a.name}={val}", ps4)
            except ExpansionError as e:
                yield from self.flush_err()
                yield (2, enc(f"{self.errname}: line {node.line}: {e}\n"))
                raise self.abandon(e) from None
            yield from self.flush_err()
            st = self.last_cmdsub_status or 0
            if node.redirs:
                st2 = yield from self.with_redirs(node.redirs, inp, lambda i: _const(st))
                return st2
            return st
        temp: dict[str, Var] = {}
        if node.assigns:
            self.scopes.append(temp)
            try:
                for a in node.assigns:
                    self.assign(a, temp)
            except ExpansionError as e:
                self.scopes.pop()
                yield (2, enc(f"{self.errname}: line {node.line}: {e}\n"))
                raise self.abandon(e) from None
            self.scopes.pop()
            yield from self.flush_err()
            if self.opt("xtrace"):
                for k, v in temp.items():
                    val = v.value if isinstance(v.value, str) else ""
                    yield self.trace_line(f"{k}={shell_quote(val)}")
        yield from self.xtrace(argv)
        if argv == ["exec"] and node.redirs:
            return (yield from self.exec_redirs(node.redirs, inp))
        if node.redirs:
            return (
                yield from self.with_redirs(
                    node.redirs, inp, lambda i: self.run_argv(argv, i, temp)
                )
            )
        return (yield from self.run_argv(argv, inp, temp))

    def expand_argv(self, words: list[A.Word]) -> list[str]:
        """Expand command words.

        NAME=value arguments of declaration builtins are not split or globbed.
        """
        if len(words) > 1 and words[0].unquoted_literal() in DECL_BUILTINS:
            out = self.expand_word(words[0])
            for w in words[1:]:
                f = w.parts[0] if w.parts else None
                if (
                    isinstance(f, A.Lit)
                    and not f.quoted
                    and re.match(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=", f.text)
                ):
                    out.append(self.expand_str(w))
                else:
                    out.extend(self.expand_word(w))
            return out
        return self.expand_words(words)

    def run_argv(self, argv: list[str], inp: Input, temp: dict[str, Var] | None = None) -> Gen:
        BUILTINS, SPECIAL, COMMANDS = _registries()
        name = argv[0]
        if temp:
            # bash (not --posix) keeps prefix assignments temporary for special builtins too
            self.scopes.append(temp)
        try:
            # and looks functions up before every builtin, special ones included
            if name in self.functions:
                return (yield from self.call_function(name, argv, inp))
            b = BUILTINS.get(name)
            if b is not None:
                if len(argv) > 1 and argv[1][:1] == "-" and name in OPTIONS:
                    bad = bad_option(name, argv)
                    if bad:
                        yield (2, enc(f"{self.errname}: line {self.lineno}: {name}: {bad}: "))
                        yield (2, enc(f"invalid option\n{name}: usage: {USAGE[name]}\n"))
                        return 2
                return (yield from self._line_errors(b(self, argv, inp)))
            c = COMMANDS.get(name)
            if c is None and name.startswith(
                ("/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/")
            ):
                c = COMMANDS.get(name.rsplit("/", 1)[1])
                if c is None and name.rsplit("/", 1)[1] in BUILTINS:
                    c = BUILTINS[name.rsplit("/", 1)[1]]
            if c is not None:
                if "/" not in name:
                    self.hash_command(name)
                try:
                    return (yield from c(self, argv, inp))
                except (ExitShell, ControlFlow):
                    raise
                except ExpansionError:
                    raise
                except Exception as e:  # a command bug must not kill the shell
                    yield (2, enc(f"{name}: {e}\n"))
                    return 1
            path = self.resolve(name) if "/" in name else self.hash_command(name)
            if path is not None and "/" not in name and not os.path.isfile(path):
                # bash runs the remembered path: a deleted file is not looked for again
                yield (
                    2,
                    enc(f"{self.errname}: line {self.lineno}: {path}: No such file or directory\n"),
                )
                return 127
            if path is not None and os.path.isfile(path):
                if not os.access(path, os.X_OK):
                    yield (
                        2,
                        enc(f"{self.errname}: line {self.lineno}: {name}: Permission denied\n"),
                    )
                    return 126
                return (yield from self.run_script_file([path] + argv[1:], inp))
            if "/" in name:
                try:
                    isdir = os.path.isdir(path or name)
                    os.stat(path or name)
                    why, st = ("Is a directory", 126) if isdir else ("Permission denied", 126)
                except OSError as e:  # ENAMETOOLONG, ENOTDIR, EACCES: found but not runnable
                    why = os.strerror(e.errno or 0)
                    st = 127 if e.errno == errno.ENOENT else 126
                yield (2, enc(f"{self.errname}: line {self.lineno}: {name}: {why}\n"))
                return st
            yield (2, enc(f"{self.errname}: line {self.lineno}: {name}: command not found\n"))
            return 127
        finally:
            if temp:
                self.scopes.remove(temp)

    def hash_command(self, name: str, search: bool = True) -> str | None:
        """The path a command name runs from: remembered (counting a hit) or searched in
        PATH and remembered. A built-in command gets the standard directory it stands for."""
        path = self.get_str("PATH") or ""
        if path != self.hash_path:
            self.hashed.clear()
            self.hash_path = path
        e = self.hashed.get(name)
        if e is not None:
            e[1] += 1
            return str(e[0])
        if not search:
            return None
        if name in _registries()[2]:
            std = [d for d in path.split(":") if d in _STD_BIN]
            found = f"{std[0]}/{name}" if std else None
        else:
            found = self.path_lookup(name)
        if found is not None:
            self.hashed[name] = [found, 1]
        return found

    def path_lookup(self, name: str) -> str | None:
        for d in (self.get_str("PATH") or "").split(":"):
            if d in _STD_BIN:
                continue  # host binaries cannot run in-process
            p = os.path.join(self.resolve(d or "."), name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
        return None

    def _line_errors(self, g: Gen) -> Gen:
        """Builtin diagnostics carry the line number like bash -c does ('bash: line N: ...')."""
        try:
            while True:
                fd, data = next(g)
                if fd == 2 and data.startswith(b"bash: ") and not data.startswith(b"bash: line "):
                    if _OWN_LINE.match(data):  # `eval: line 1: …` has its line already
                        data = enc(self.errname) + data[4:]
                    else:
                        data = enc(f"{self.errname}: line {self.lineno}: ") + data[6:]
                yield fd, data
        except StopIteration as e:
            return e.value if isinstance(e.value, int) else 0

    def run_script_file(self, argv: list[str], inp: Input) -> Gen:
        path = self.resolve(argv[0])
        with open(path, "rb") as f:
            src = dec(f.read())
        first = src.split("\n", 1)[0]
        if first.startswith("#!") and "python" in first:
            from .builtins import run_python

            return (yield from run_python(self, ["python3", path] + argv[1:], inp))
        sub = self.fork()
        sub.positional_args = argv[1:]
        sub.arg0 = sub.errname = argv[0]
        sub.functions = {}
        return (yield from sub.run_subshell_source(src, inp))

    def run_subshell_source(self, src: str, inp: Input) -> Gen:
        try:
            st = yield from self.run_source(src, inp)
        except (ExitShell, AbortCommand) as e:
            st = e.status
        except ExpansionError as e:
            yield (2, enc(f"bash: {e}\n"))
            st = 1
        except (BreakLoop, ContinueLoop):
            st = self.status
        except ReturnFn as e:
            st = e.status
        if "EXIT" in self.traps:
            self.status = st
            yield from self.run_trap("EXIT", inp)
        return st

    def call_function(self, name: str, argv: list[str], inp: Input) -> Gen:
        body = self.functions[name]
        if self.func_depth > 200:
            yield (2, enc(f"bash: {name}: maximum function nesting level exceeded (200)\n"))
            raise ExitShell(1)
        saved = self.positional_args
        self.positional_args = argv[1:]
        self.scopes.append({})
        self.func_depth += 1
        self.funcnames.append(name)
        self.call_lines.append(self.lineno)
        try:
            status = yield from self.exec_node(body, inp)
        except ReturnFn as e:
            status = e.status
        finally:
            self.func_depth -= 1
            self.funcnames.pop()
            self.call_lines.pop()
            self.scopes.pop()
            self.positional_args = saved
        return status


_REG: tuple[Any, Any, Any] | None = None
_OWN_LINE = re.compile(rb"bash: [\w.]+: line \d+: ")


_STD_BIN = ("/usr/bin", "/bin", "/usr/local/bin", "/sbin", "/usr/sbin")


def _registries() -> tuple[Any, Any, Any]:
    """Builtin and command tables (imported lazily: they import this module)."""
    global _REG
    if _REG is None:
        from .builtins import BUILTINS, SPECIAL
        from .commands import COMMANDS

        _REG = (BUILTINS, SPECIAL, COMMANDS)
    return _REG


def _const(st: int) -> Gen:
    return st
    yield (1, b"")  # pragma: no cover - makes this a generator
