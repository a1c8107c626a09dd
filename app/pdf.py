"""HTML to PDF with WeasyPrint, safely: a URL fetcher that serves only our static files and the tenant's logo,
and a time limit on every render.

Card values are user content. Jinja escapes them, so they cannot add tags, but the fetcher is the second wall: any
URL that is not one of ours (http, https, file, ftp, redirects, data: over a few KB) is refused without opening a
connection. Rendering runs in a forked child process that is killed when it takes longer than PDF_TIMEOUT seconds,
so one pathological card cannot hold a web worker. WeasyPrint, the fonts and our stylesheets are loaded once in the
parent, before the first fork, so every child starts warm; batches may run several children at once
(render_pdf_chunks).
"""
from __future__ import annotations

import base64
import logging
import mimetypes
import multiprocessing
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from flask import current_app

log = logging.getLogger(__name__)
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

# Documents are rendered against this origin; it is never connected to (".invalid" cannot resolve).
INTERNAL_HOST = "clientcard.invalid"
INTERNAL_ORIGIN = f"https://{INTERNAL_HOST}"
LOGO_PATH = "/_tenant/logo"
MAX_DATA_URL = 32 * 1024          # bytes of a data: URL that we decode at all
MAX_STATIC_FILE = 2 * 1024 * 1024


class RenderTimeout(Exception):
    """The render took longer than its time limit and was stopped."""


class RenderFailed(Exception):
    """WeasyPrint failed on this document."""


class FetchRefused(ValueError):
    """A URL the PDF may not load."""


def static_url(filename: str) -> str:
    """The URL of one of our static files inside a PDF document."""
    return f"{INTERNAL_ORIGIN}/static/{filename}"


def logo_url() -> str:
    return INTERNAL_ORIGIN + LOGO_PATH


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class SafeFetcher(URLFetcher):
        """Serves our static folder and the tenant logo from memory; everything else is refused unopened."""

        def __init__(self, static_dir: Path, logo: tuple[bytes, str] | None):
            # No protocols and no redirects for the parent class, in case anything reaches it.
            super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False)
            self.static_dir = static_dir.resolve()
            self.logo = logo
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data" and len(url) <= MAX_DATA_URL:
                return self._data(url)
            if scheme == "https" and parts.netloc == INTERNAL_HOST and not parts.query:
                if parts.path == LOGO_PATH and self.logo:
                    return URLFetcherResponse(url, self.logo[0], {"Content-Type": self.logo[1]})
                if parts.path.startswith("/static/"):
                    path = (self.static_dir / unquote(parts.path[len("/static/"):])).resolve()
                    if (path.is_relative_to(self.static_dir) and path.is_file()
                            and path.stat().st_size <= MAX_STATIC_FILE):
                        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
            # Never log the URL itself: it comes from user content.
            self.refused.append(scheme or "?")
            raise FetchRefused(f"refused a {scheme or 'relative'} URL")

        def _data(self, url):
            header, _, payload = url[5:].partition(",")
            mime = header.split(";")[0] or "text/plain"
            try:
                body = base64.b64decode(unquote(payload)) if header.endswith(";base64") else unquote_to_bytes(payload)
            except ValueError as e:
                raise FetchRefused("bad data: URL") from e
            return URLFetcherResponse(url, body, {"Content-Type": mime})

    return SafeFetcher


def safe_fetcher(static_dir: Path, logo: tuple[bytes, str] | None = None):
    """The URL fetcher every PDF is rendered with (exposed for tests)."""
    return _fetcher_class()(static_dir, logo)


# Parsed once per process (at warm-up, before any fork) so every render child inherits them: parsing pdf.css and
# setting up fonts cost ~50 ms of each render otherwise. Keyed by file and mtime, so an edited stylesheet is re-read.
_font_config = None
_stylesheets: dict[tuple[str, str, float], object] = {}


def _font_configuration():
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config = FontConfiguration()
    return _font_config


def _stylesheet(static_dir: str, name: str):
    """One of our static stylesheets as a parsed weasyprint.CSS, cached in this process."""
    from weasyprint import CSS

    path = Path(static_dir) / name
    key = (static_dir, name, path.stat().st_mtime)
    if key not in _stylesheets:
        _stylesheets[key] = CSS(url=static_url(name), url_fetcher=safe_fetcher(Path(static_dir)),
                                font_config=_font_configuration())
    return _stylesheets[key]


def _document(html: str, fetcher, static_dir: str, stylesheets):
    from weasyprint import HTML

    return HTML(string=html, base_url=INTERNAL_ORIGIN + "/", url_fetcher=fetcher).render(
        stylesheets=[_stylesheet(static_dir, name) for name in stylesheets], font_config=_font_configuration())


def _render_here(html: str, static_dir: str, logo, stylesheets=()) -> bytes:
    fetcher = safe_fetcher(Path(static_dir), logo)
    # Fonts are subset by default (only the glyphs used), which keeps a CJK card small.
    return _document(html, fetcher, static_dir, stylesheets).write_pdf()


def _render_many_here(htmls: list[str], static_dir: str, logo, merge: bool, stylesheets=()):
    fetcher = safe_fetcher(Path(static_dir), logo)
    docs = [_document(h, fetcher, static_dir, stylesheets) for h in htmls]
    if not merge:
        return [doc.write_pdf() for doc in docs]
    # Each document was laid out on its own, so its page numbers ("1 / 3") and bookmarks stay its own; written
    # as one PDF, the documents share one subset of each font instead of carrying ~150 KB of CJK glyphs each.
    return docs[0].copy([page for doc in docs for page in doc.pages]).write_pdf()


def _child(conn, html, static_dir, logo, many=None, stylesheets=()):
    try:
        conn.send(("ok", _render_here(html, static_dir, logo, stylesheets) if many is None
                   else _render_many_here(html, static_dir, logo, many, stylesheets)))
    except BaseException as e:  # report any failure to the parent; the child exits either way
        conn.send(("error", f"{type(e).__name__}: {e}"[:500]))
    finally:
        conn.close()


_warmed = False


def _warm_up(static_dir: str, stylesheets=()) -> None:
    """Load WeasyPrint, Pango and the CJK font once in this process, and parse the stylesheets, so every forked
    render starts warm."""
    global _warmed
    if not _warmed:
        _render_here('<p style="font-family: \'Noto Sans CJK SC\'">客户资料卡 ClientCard</p>', static_dir, None)
        _warmed = True
    for name in stylesheets:
        _stylesheet(static_dir, name)


def render_pdf(html: str, *, logo: tuple[bytes, str] | None = None, timeout: float | None = None,
               stylesheets: tuple[str, ...] = ()) -> bytes:
    """Render one HTML document to PDF bytes in a child process, within `timeout` seconds (PDF_TIMEOUT);
    `stylesheets` are static files (e.g. "css/pdf.css") applied as if linked, parsed once per process."""
    return _in_child(html, logo, timeout, None, tuple(stylesheets))


def render_pdfs(htmls: list[str], *, merge: bool, logo: tuple[bytes, str] | None = None,
                timeout: float | None = None, stylesheets: tuple[str, ...] = ()):
    """Render several documents in one child process (batches): one PDF of them all when `merge` (each keeps its
    own page numbering), else a list of PDFs. The time limit is `timeout` (PDF_TIMEOUT) per document."""
    if not htmls:
        return b"" if merge else []
    timeout = float(timeout if timeout is not None else current_app.config.get("PDF_TIMEOUT", 20))
    return _in_child(list(htmls), logo, timeout * len(htmls), merge, tuple(stylesheets))


def render_pdf_chunks(chunks: Iterable[tuple[Any, list[str]]], *, merge: bool,
                      logo: tuple[bytes, str] | None = None, timeout: float | None = None,
                      stylesheets: tuple[str, ...] = (), processes: int = 1) -> Iterator[tuple[Any, Any]]:
    """render_pdfs() for a stream of (key, htmls) chunks, with up to `processes` render children at once: yields
    (key, result) in the chunks' order, the result being what render_pdfs() returns or the RenderTimeout /
    RenderFailed it raised. The next chunk is taken from `chunks` (its HTML built here, in the parent) while the
    children render, so a lazy iterable overlaps its own work with the renders."""
    app = current_app._get_current_object()
    per_doc = float(timeout if timeout is not None else app.config.get("PDF_TIMEOUT", 20))
    processes = max(1, int(processes))
    running: deque[tuple[Any, _Render | None]] = deque()
    todo = iter(chunks)
    ahead = None  # the next chunk, built while the children render
    try:
        while True:
            while len(running) < processes:
                item, ahead = ahead or next(todo, None), None
                if item is None:
                    break
                key, htmls = item
                htmls = list(htmls)
                running.append((key, _start(htmls, logo, per_doc * len(htmls), merge, tuple(stylesheets))
                                if htmls else None))
            if not running:
                return
            if ahead is None:
                ahead = next(todo, None)
            key, render = running.popleft()
            if render is None:
                yield key, b"" if merge else []
                continue
            try:
                result = render.result()
            except (RenderTimeout, RenderFailed) as e:
                result = e
            yield key, result
    finally:
        for _key, render in running:
            if render is not None:
                render.stop()


def _in_child(html, logo, timeout, many, stylesheets=()):
    timeout = float(timeout if timeout is not None else current_app.config.get("PDF_TIMEOUT", 20))
    return _start(html, logo, timeout, many, stylesheets).result()


class _Render:
    """One forked render child and the pipe its result comes back on."""

    def __init__(self, proc, receiver, timeout: float):
        self.proc, self.receiver, self.timeout = proc, receiver, timeout
        self.deadline = time.monotonic() + timeout

    def result(self):
        try:
            if not self.receiver.poll(max(0.0, self.deadline - time.monotonic())):
                self.proc.kill()
                raise RenderTimeout(f"PDF render took longer than {self.timeout:g} s")
            try:
                status, payload = self.receiver.recv()
            except EOFError as e:  # the child died without a word (killed, out of memory)
                raise RenderFailed("the PDF renderer stopped") from e
        finally:
            self.stop(grace=5)
        if status != "ok":
            log.warning("PDF render failed: %s", payload)
            raise RenderFailed(payload)
        return payload

    def stop(self, grace: float = 0) -> None:
        self.receiver.close()
        self.proc.join(grace)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def _start(html, logo, timeout: float, many, stylesheets=()) -> _Render:
    static_dir = current_app.static_folder
    _warm_up(static_dir, stylesheets)
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(sender, html, static_dir, logo, many, stylesheets), daemon=True)
    proc.start()
    sender.close()
    return _Render(proc, receiver, timeout)
