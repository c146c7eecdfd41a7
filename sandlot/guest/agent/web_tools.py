"""`websearch QUERY` and `fetch URL` for the `websearch-tools` template, and their Python
helpers (`from sandlot_guest.agent.web_tools import websearch, fetch`).

Stdlib only, so the same file runs on the process, gvisor and microvm tiers: urllib goes
through the proxy variables the tier sets, so every request meets the sandbox's policy at
the host's gateway. The search endpoint is `SANDLOT_SEARCH_URL` (a SearXNG-compatible JSON
API, set by the host); a provider's key is a sandlot secret the gateway adds on the way
out, so no key is ever in here.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

SEARCH_URL_ENV = "SANDLOT_SEARCH_URL"
NOT_CONFIGURED = (
    "websearch: no search endpoint is configured. On the host, set SANDLOT_SEARCH_URL to a "
    "SearXNG-compatible JSON API (e.g. https://searx.example/search; sandlot adds "
    "?q=QUERY&format=json), or `search_url` in the `[websearch]` table of the `sandlot serve` "
    "config; a provider's API key goes in SANDLOT_SEARCH_HEADER ('Header: value'), which the "
    "gateway adds outside the sandbox. Then create the sandbox again."
)
MAX_PAGE = 8 << 20  # bytes of a page read before it is cut
_SKIP = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCKS = {"p", "div", "section", "article", "br", "tr", "li", "ul", "ol", "table", "pre"}
_HEADINGS = {"h1": "# ", "h2": "## ", "h3": "### ", "h4": "#### ", "h5": "##### ", "h6": "###### "}


class NotConfigured(RuntimeError):
    """No search endpoint: the message says what to configure."""


@dataclass(frozen=True)
class Result:
    title: str
    url: str
    snippet: str


@dataclass
class Page:
    url: str
    title: str
    text: str  # markdown-ish: headings, paragraphs, list items
    links: list[str] = field(default_factory=list)


class _Text(HTMLParser):
    """HTML to readable text: scripts and styles dropped, blocks on their own lines,
    headings as markdown, links collected (absolute)."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base, self.title = base, ""
        self.parts: list[str] = [""]
        self.links: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        self._in_title = tag == "title"
        if tag in _BLOCKS or tag in _HEADINGS:
            self.parts.append(_HEADINGS.get(tag, "- " if tag == "li" else ""))
        href = dict(attrs).get("href") if tag == "a" else None
        if href and not href.startswith(("#", "javascript:", "mailto:")):
            link = urllib.parse.urljoin(self.base, href)
            if link not in self.links:
                self.links.append(link)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        if tag == "title":
            self._in_title = False
        if tag in _BLOCKS or tag in _HEADINGS:
            self.parts.append("")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif not self._skip:
            self.parts[-1] += data

    def text(self) -> str:
        lines = (re.sub(r"\s+", " ", p).strip() for p in self.parts)
        return "\n\n".join(line for line in lines if line and line not in ("-", "#"))


def html_to_page(html: str, url: str) -> Page:
    parser = _Text(url)
    parser.feed(html)
    parser.close()
    return Page(url, parser.title, parser.text(), parser.links)


def _get(url: str, timeout: float) -> tuple[str, str, str]:
    """(final URL, content type, body as text) of a GET through the sandbox's proxy."""
    req = urllib.request.Request(url, headers={"User-Agent": "sandlot-websearch/1"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read(MAX_PAGE)
        charset = resp.headers.get_content_charset() or "utf-8"
        return resp.geturl(), resp.headers.get_content_type(), body.decode(charset, "replace")


def websearch(query: str, *, limit: int = 10, timeout: float = 30.0) -> list[Result]:
    """Search through the configured endpoint; NotConfigured says what to set."""
    base = os.environ.get(SEARCH_URL_ENV, "").strip()
    if not base:
        raise NotConfigured(NOT_CONFIGURED)
    sep = "&" if urllib.parse.urlsplit(base).query else "?"
    url = base + sep + urllib.parse.urlencode({"q": query, "format": "json"})
    _, _, body = _get(url, timeout)
    found = json.loads(body).get("results") or []
    return [
        Result(str(r.get("title", "")), str(r.get("url", "")), str(r.get("content", "")))
        for r in found[:limit]
        if isinstance(r, dict)
    ]


def fetch(url: str, *, timeout: float = 30.0) -> Page:
    """The page at `url` as clean text and its links (plain text is kept as it is)."""
    final, kind, body = _get(url, timeout)
    if kind in ("text/html", "application/xhtml+xml"):
        return html_to_page(body, final)
    return Page(final, "", body.strip())


def _main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("websearch", "fetch"):
        print("usage: websearch QUERY... | fetch URL", file=sys.stderr)
        return 2
    try:
        if argv[0] == "websearch":
            for i, r in enumerate(websearch(" ".join(argv[1:])), 1):
                print(f"{i}. {r.title}\n   {r.url}\n   {r.snippet}\n")
            return 0
        page = fetch(argv[1])
    except NotConfigured as e:
        print(e, file=sys.stderr)
        return 2
    except OSError as e:  # urllib's errors: a refusal's 403 says why
        detail = e.read().decode("utf-8", "replace") if hasattr(e, "read") else ""
        print(f"{argv[0]}: {e} {detail}".strip(), file=sys.stderr)
        return 1
    print(f"# {page.title}\n" if page.title else "", end="")
    print(page.text)
    if page.links:
        print("\nLinks:\n" + "\n".join(f"- {link}" for link in page.links))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
