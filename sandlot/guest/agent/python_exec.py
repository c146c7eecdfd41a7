"""Stateful Python cells, as a notebook kernel runs them.

A cell runs in one persistent namespace (`__main__`); its last expression's value and the
figures it showed become rich results (text, html, png, json), and an uncaught exception
becomes an error with the traceback the code would have printed.
"""

from __future__ import annotations

import ast
import base64
import sys
from types import CodeType
from typing import Any

MAX_TEXT_REPR = 1 << 20


class PythonSession:
    """One namespace and its execution count."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.execution_count = 0

    def run(self, code: str) -> dict[str, Any]:
        """Run one cell; return {"results", "error", "execution_count"}."""
        self.execution_count += 1
        filename = f"<cell {self.execution_count}>"
        results: list[dict[str, Any]] = []
        error = None
        _start_figures()
        try:
            body, last = _compile_cell(code, filename)
        except BaseException as e:  # SyntaxError, or a parser that ran out of C stack
            return {
                "results": [],
                "error": _describe(e, filename),
                "execution_count": self.execution_count,
                "phase": "compile",
            }
        try:
            if body is not None:
                exec(body, self.namespace)
            if last is not None:
                value = eval(last, self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    results.append(display(value, main=True))
        except MemoryError:
            error = {"name": "MemoryError", "value": "out of memory", "traceback": ""}
        except BaseException as e:  # SystemExit and KeyboardInterrupt included: the cell ends
            error = _describe(e, filename)
        try:
            results[:0] = [{"png": _b64(png)} for png in _finish_figures()]
        except Exception as e:  # a figure that cannot render is the cell's error, not ours
            error = error or _describe(e, filename)
        return {"results": results, "error": error, "execution_count": self.execution_count}


def _compile_cell(code: str, filename: str) -> tuple[CodeType | None, CodeType | None]:
    """Split a cell into its body and a final expression to display."""
    import linecache

    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:  # one expression (`x`, `df.head()`, `1+1`): compiled as it is, no AST (~3x less)
        return None, compile(code, filename, "eval")
    except SyntaxError:
        pass  # statements: the AST splits off a final expression to display
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec") if tree.body else None
    return body, (compile(last, filename, "eval") if last is not None else None)


def _describe(e: BaseException, filename: str) -> dict[str, str]:
    """The error as the guest saw it, with our own frames trimmed from the traceback."""
    import traceback  # ~60 ms to import in the guest: paid on the first error, not at boot

    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    lines = traceback.format_exception(type(e), e, tb if tb is not None else e.__traceback__)
    if isinstance(e, SyntaxError):
        lines = traceback.format_exception_only(type(e), e)
    return {"name": type(e).__name__, "value": str(e), "traceback": "".join(lines)}


def display(value: Any, *, main: bool = False) -> dict[str, Any]:
    """Every representation of a value we know how to make."""
    out: dict[str, Any] = {"is_main_result": main}
    try:
        text = repr(value)
    except Exception as e:
        text = f"<repr failed: {type(e).__name__}: {e}>"
    if _is_numpy_scalar(value):
        text = str(value)  # "45", not "np.int64(45)": what a reader of the result expects
    out["text"] = text[:MAX_TEXT_REPR]
    for method, key in (("_repr_html_", "html"), ("_repr_json_", "json")):
        rep = _call_repr(value, method)
        if rep is not None:
            out[key] = rep
    png = _call_repr(value, "_repr_png_")
    if isinstance(png, bytes):
        out["png"] = _b64(png)
    if _is_figure(value):
        import io

        buf = io.BytesIO()
        value.savefig(buf, format="png", bbox_inches="tight")
        out["png"] = _b64(buf.getvalue())
    return out


def _call_repr(value: Any, method: str) -> Any:
    fn = getattr(type(value), method, None)
    if fn is None:
        return None
    try:
        return fn(value)
    except Exception:
        return None


def _is_numpy_scalar(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.generic)


def _is_figure(value: Any) -> bool:
    mod = sys.modules.get("matplotlib.figure")
    return mod is not None and isinstance(value, mod.Figure)


def _start_figures() -> None:
    from . import mpl_inline_state

    mpl_inline_state.reset()


def _finish_figures() -> list[bytes]:
    from . import mpl_inline_state

    return mpl_inline_state.collect()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
