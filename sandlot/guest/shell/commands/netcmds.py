"""curl and wget for the wasm guest's shell: each request goes through the fetch bridge
(`guest/agent/net_bridge.py`), so the host's gateway applies the sandbox's policy; a
refusal is the gateway's 403 whose body says why."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ...agent.net_bridge import BridgeRefused, fetch
from ..io import Gen, Input
from . import command
from .util import enc

Answer = dict[str, Any]

# curl's options: those that take a value, and the long names of each
_CURL_VALUE = {"-o", "-X", "-H", "-d", "-w", "-m", "-A", "-e", "-u", "--data-binary", "--data-raw"}
_CURL_LONG = {
    "--silent": "-s", "--show-error": "-S", "--fail": "-f", "--location": "-L",
    "--output": "-o", "--remote-name": "-O", "--head": "-I", "--request": "-X",
    "--header": "-H", "--data": "-d", "--data-ascii": "-d", "--write-out": "-w",
    "--include": "-i", "--verbose": "-v", "--max-time": "-m", "--user-agent": "-A",
    "--referer": "-e", "--insecure": "-k", "--compressed": "--compressed",
}  # fmt: skip


class _Usage(Exception):
    pass


def _with_scheme(url: str) -> str:
    return url if "://" in url else "http://" + url


def _value(it: Iterator[str], flag: str) -> str:
    val = next(it, None)
    if val is None:
        raise _Usage(f"option {flag}: requires parameter")
    return val


def _curl_args(args: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Flags (each with its values, repeatable) and the URLs; short flags may be joined."""
    opts: dict[str, list[str]] = {}
    urls: list[str] = []
    it = iter(args)
    for a in it:
        if a.startswith("--") and a != "--":
            name, eq, val = a.partition("=")
            flag = _CURL_LONG.get(name, name)
            if flag not in _CURL_VALUE and flag not in _CURL_LONG.values():
                raise _Usage(f"option {a}: is unknown")
            if flag in _CURL_VALUE and not eq:
                val = _value(it, a)
            opts.setdefault(flag, []).append(val)
        elif a.startswith("-") and len(a) > 1:
            for i, c in enumerate(a[1:], 1):
                flag = "-" + c
                if flag in _CURL_VALUE:
                    val = a[i + 1 :] or _value(it, flag)
                    opts.setdefault(flag, []).append(val)
                    break
                if flag not in "-s -S -f -L -O -I -i -v -k".split():
                    raise _Usage(f"option {flag}: is unknown")
                opts.setdefault(flag, []).append("")
        else:
            urls.append(a)
    return opts, urls


def _data(sh: Any, values: list[str], inp: Input) -> bytes:
    """-d's values joined by '&'; '@FILE' reads the file ('@-': standard input)."""
    parts = []
    for v in values:
        if v.startswith("@"):
            if v == "@-":
                parts.append(b"".join(inp.chunks()))
            else:
                with open(sh.resolve(v[1:]), "rb") as f:
                    parts.append(f.read())
        else:
            parts.append(enc(v))
    return b"&".join(parts)


def _status_line(answer: Answer) -> str:
    return f"HTTP/1.1 {answer['status']} {answer.get('reason') or ''}".rstrip()


def _head_text(answer: Answer) -> bytes:
    lines = [_status_line(answer), *(f"{k}: {v}" for k, v in answer["headers"])]
    return enc("\r\n".join(lines) + "\r\n\r\n")


def _write_out(template: str, answer: Answer) -> bytes:
    values = {
        "http_code": f"{answer['status']:03d}",
        "response_code": f"{answer['status']:03d}",
        "url_effective": str(answer.get("url") or ""),
        "size_download": str(len(answer["body"])),
        "content_type": dict((k.lower(), v) for k, v in answer["headers"]).get("content-type", ""),
    }
    out = template.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")
    for name, value in values.items():
        out = out.replace("%{" + name + "}", value)
    return enc(out)


def _refusal_note(answer: Answer) -> bytes:
    """The gateway's own explanation, when the answer is its refusal."""
    if any(k.lower() == "x-sandlot-refused" for k, _ in answer["headers"]):
        body = bytes(answer["body"])
        return body if body.endswith(b"\n") else body + b"\n"
    return b""


@command("curl")
def curl(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, urls = _curl_args(args[1:])
    except _Usage as e:
        yield (2, enc(f"curl: {e}\ncurl: try 'curl --help' for more information\n"))
        return 2
    if not urls:
        yield (2, b"curl: no URL specified\n")
        return 2
    show = "-S" in opts or "-s" not in opts  # errors shown, unless -s alone
    data = opts.get("-d", []) + opts.get("--data-binary", []) + opts.get("--data-raw", [])
    body = _data(sh, data, inp) if data else b""
    head = "-I" in opts
    method = opts.get("-X", ["HEAD" if head else "POST" if data else "GET"])[-1]
    headers = [tuple(h.split(":", 1)) for h in opts.get("-H", []) if ":" in h]
    pairs = [(k.strip(), v.strip()) for k, v in headers if k.strip() and v.strip()]
    if data and not any(k.lower() == "content-type" for k, _ in pairs):
        pairs.append(("Content-Type", "application/x-www-form-urlencoded"))
    if not any(k.lower() == "user-agent" for k, _ in pairs):
        pairs.append(("User-Agent", opts.get("-A", ["curl/8 (sandlot)"])[-1]))
    timeout = float(opts["-m"][-1]) if "-m" in opts else None
    status = 0
    for url in map(_with_scheme, urls):
        if "-v" in opts:
            target = urlsplit(url)
            yield (2, enc(f"> {method} {target.path or '/'} HTTP/1.1\n> Host: {target.netloc}\n"))
        try:
            answer = fetch(method, url, pairs, body, follow_redirects="-L" in opts, timeout=timeout)
        except BridgeRefused as e:
            if show:
                yield (2, enc(f"curl: (7) {e}\n"))
            status = 7
            continue
        if "-v" in opts:
            yield (2, b"".join(b"< " + line + b"\n" for line in _head_text(answer).splitlines()))
        if "-f" in opts and answer["status"] >= 400:
            if show:
                message = f"curl: (22) The requested URL returned error: {answer['status']}\n"
                yield (2, enc(message) + _refusal_note(answer))
            status = 22
            continue
        out = (_head_text(answer) if head or "-i" in opts else b"") + (
            b"" if head else answer["body"]
        )
        name = _output_name(opts, url)
        failed = _save(sh, name, out) if name is not None else None
        if name is None:
            yield (1, out)
        elif failed:
            yield (2, enc(f"curl: (23) Failed writing to {name}: {failed}\n"))
            status = 23
            continue
        if "-w" in opts:
            yield (1, _write_out(opts["-w"][-1], answer))
    return status


def _save(sh: Any, name: str, data: bytes) -> str | None:
    """Write `data` to the file `name`; None, or why it could not."""
    try:
        with open(sh.resolve(name), "wb") as f:
            f.write(data)
    except OSError as e:
        return e.strerror or str(e)
    return None


def _output_name(opts: dict[str, list[str]], url: str) -> str | None:
    if "-o" in opts and opts["-o"][-1] != "-":
        return opts["-o"][-1]
    if "-O" in opts and "-o" not in opts:
        return os.path.basename(urlsplit(url).path) or "index.html"
    return None


@command("wget")
def wget(sh: Any, args: list[str], inp: Input) -> Gen:
    quiet, output, timeout, headers, post = False, None, None, [], None
    urls: list[str] = []
    it = iter(args[1:])
    for a in it:
        name, eq, val = a.partition("=")
        takes = {"-O", "--output-document", "-T", "--timeout", "--header", "--post-data"}
        if name in takes and not eq:
            val = next(it, "")
        if a in ("-q", "--quiet", "-nv", "--no-verbose"):
            quiet = True
        elif name in ("-O", "--output-document"):
            output = val
        elif a.startswith("-O"):
            output = a[2:]
        elif name in ("-T", "--timeout"):
            timeout = float(val)
        elif name == "--header" and ":" in val:
            k, _, v = val.partition(":")
            headers.append((k.strip(), v.strip()))
        elif name == "--post-data":
            post = enc(val)
        elif a.startswith("-"):
            continue  # progress and retry settings mean nothing here
        else:
            urls.append(a)
    if not urls:
        yield (2, b"wget: missing URL\n")
        return 1
    status = 0
    for url in map(_with_scheme, urls):
        method = "POST" if post is not None else "GET"
        try:
            answer = fetch(
                method, url, headers, post or b"", follow_redirects=True, timeout=timeout
            )
        except BridgeRefused as e:
            yield (2, enc(f"wget: {e}\n"))
            status = 4
            continue
        if answer["status"] >= 400:
            reason = answer.get("reason") or ""
            yield (2, enc(f"{url}:\nERROR {answer['status']}: {reason}.\n") + _refusal_note(answer))
            status = 8
            continue
        target = output or os.path.basename(urlsplit(url).path) or "index.html"
        if target == "-":
            yield (1, answer["body"])
            continue
        failed = _save(sh, target, answer["body"])
        if failed:
            yield (2, enc(f"wget: {target}: {failed}\n"))
            status = 3
            continue
        if not quiet:
            yield (2, enc(f"Saving to: '{target}'\n'{target}' saved [{len(answer['body'])}]\n"))
    return status
