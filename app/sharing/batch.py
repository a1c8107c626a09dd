"""Batch export of card PDFs: the filtered or selected list as one merged PDF or a ZIP of PDFs, built as a job.

The request resolves which cards (the list's own query and order, or the ticked rows) and stores their ids and the
options in the job; never a value. The job asks the one access decision again for every card, at run time, as the
user who asked: a card that user may no longer see is skipped and never rendered. A batch never carries confidential
fields (it has no "include confidential"); every card it renders is recorded in that card's view log.

Merging: cards are rendered in chunks, each chunk in one forked child (app.pdf.render_pdfs). Every card is laid out
as its own WeasyPrint document, so its page numbers ("1 / 3") and its bookmark stay its own; the chunk is written
as one PDF whose pages share one subset of the CJK font (~150 KB), instead of one font copy per card as gluing
finished single-card PDFs would give (a 1,000-card batch: about 30 MB instead of about 190 MB). pypdf then joins
the chunk PDFs. Up to PDF_BATCH_PROCESSES chunks render at once (in as many children), and the next chunk's HTML
is built while they render; the results are taken in the cards' order. A chunk that fails (a card over the time
limit) is retried card by card, so only the bad card is left out, and the result says which.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace

from flask import current_app
from flask_babel import gettext as _

from app import jobs, pdf
from app.accounts.models import User
from app.clients.access import get_visible_client, visible_clients
from app.clients.listing import ListParams, list_clients
from app.clients.models import Client
from app.db_types import utcnow
from app.extensions import db
from app.sharing import services as ss
from app.tenancy import current_tenant

KIND = "pdf.batch"
FORMATS = ("pdf", "zip")
CHUNK = 10  # cards per render child: ~8 MB of layout each while the chunk is written, so ~80 MB at most


class BatchInputError(Exception):
    """Bad batch options: `errors` maps a field name to a translated message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def batch_max() -> int:
    """How many cards one batch may hold (PDF_BATCH_MAX)."""
    return int(current_app.config.get("PDF_BATCH_MAX", 1000))


def batch_processes() -> int:
    """How many render children one batch runs at once (PDF_BATCH_PROCESSES): each takes a core while it renders."""
    return max(1, int(current_app.config.get("PDF_BATCH_PROCESSES", 1)))


def too_many_message() -> str:
    return _("A batch holds at most %(max)s cards, and this list has more. Narrow it with filters, or select the "
             "rows to export.", max=f"{batch_max():,}")


def listed_ids(user: User, params: ListParams, fields=None) -> list[int]:
    """The ids of the filtered list in the list's own order, at most batch_max() + 1 (one more says "too many")."""
    page = list_clients(user, replace(params, cursor=None, limit=batch_max() + 1), fields)
    return [c.id for c in page.items]


def selected_ids(user: User, raw_ids) -> list[int]:
    """The ticked ids in the order given (duplicates and junk dropped), or [] when the user may see none of them.
    Ids the user may not see stay in: the job asks again when it runs, leaves them out and counts them."""
    ids: dict[int, None] = {}
    for x in raw_ids or []:
        x = str(x) if isinstance(x, int) and not isinstance(x, bool) else x
        if isinstance(x, str) and x.isdecimal() and len(x) < 10 and int(x) > 0:
            ids[int(x)] = None
        if len(ids) > batch_max():
            break
    if not ids:
        return []
    visible = db.session.scalars(visible_clients(user).with_only_columns(Client.id)
                                 .where(Client.id.in_(list(ids))).limit(1)).first()
    return list(ids) if visible is not None else []


def check_options(fmt: str, watermark: str) -> dict:
    errors = {}
    if fmt not in FORMATS:
        errors["format"] = _("Choose one merged PDF or a ZIP of PDFs.")
    if watermark not in ss.WATERMARKS:
        errors["watermark"] = _("Choose one of the offered watermarks.")
    return errors


def start_batch(user: User, ids: list[int], *, fmt: str = "pdf", brief: bool = False,
                watermark: str = "") -> jobs.Job:
    """Queue the batch of these card ids (ids and options only in the job); BatchInputError when it cannot run."""
    errors = check_options(fmt, watermark)
    if not ids:
        errors["ids"] = _("No cards to export: select rows, or clear filters that match nothing.")
    elif len(ids) > batch_max():
        errors["ids"] = too_many_message()
    if errors:
        raise BatchInputError(errors)
    return jobs.enqueue(KIND, user, {"ids": list(ids), "format": fmt, "brief": bool(brief), "watermark": watermark},
                        total=len(ids))


def _safe_name(text: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", text).strip(" .") or "card"


@jobs.handler(KIND)
def run_batch(job: jobs.Job, user: User | None) -> dict:
    """Render the cards the user may (still) see and keep the merged PDF or the ZIP for the download."""
    if user is None or not user.active:
        raise jobs.JobFailed(_("The colleague who asked for this export can no longer sign in."))
    p = job.params or {}
    ids = [int(i) for i in p.get("ids") or []][:batch_max()]
    fmt = p.get("format") if p.get("format") in FORMATS else "pdf"
    # A batch never reveals confidential fields, whatever the payload says.
    opts = ss.PdfOptions(include_sensitive=False, watermark=p.get("watermark") or "", brief=bool(p.get("brief")))
    if opts.watermark not in ss.WATERMARKS:
        opts.watermark = ""
    tenant = current_tenant()
    logo = ss.tenant_logo(tenant.id)
    people = ss.people_names()
    total = len(ids)
    jobs.progress(job, 0, total)
    merged: list[bytes] = []  # chunk PDFs (merged format)
    buf = io.BytesIO()
    archive = zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) if fmt == "zip" else None
    names: set[str] = set()
    skipped, failed, rendered = 0, [], 0

    def chunks():
        """The cards in chunks of CHUNK, as (chunk, htmls); built lazily, while earlier chunks render."""
        nonlocal skipped
        for start in range(0, total, CHUNK):
            chunk = []
            for cid in ids[start:start + CHUNK]:
                client = get_visible_client(user, cid)  # the one access decision, now, for this user
                if client is None:
                    skipped += 1
                    continue
                html, view = ss.card_html(user, client, opts, people=people, logo=logo)
                chunk.append((client, html, view))
            yield (start, chunk), [h for _c, h, _v in chunk]

    rendering = pdf.render_pdf_chunks(chunks(), merge=fmt == "pdf", logo=logo, stylesheets=ss.PDF_STYLESHEETS,
                                      processes=batch_processes())
    for (start, chunk), out in rendering:
        for client, data in _chunk_results(chunk, fmt, out, logo, failed):
            if archive is None:
                merged.append(data)
            else:
                archive.writestr(_member_name(client, opts.brief, names), data)
        for client, _html, view in chunk:
            if client not in failed:
                ss.record_pdf_view(user, client, view, opts)
                rendered += 1
        jobs.progress(job, min(total, start + CHUNK), total)
    if rendered == 0:
        raise jobs.JobFailed(_("None of these cards could be exported: they were removed, you may no longer see "
                               "them, or their PDFs could not be made."))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    kind = "briefs" if opts.brief else "cards"
    if archive is None:
        data = merged[0] if len(merged) == 1 else _join(merged)
        out = jobs.save_file(job, f"clients-{kind}-{stamp}.pdf", "application/pdf", data)
    else:
        archive.close()
        out = jobs.save_file(job, f"clients-{kind}-{stamp}.zip", "application/zip", buf.getvalue())
    return {**out, "link_text": _("Download"), "cards": rendered, "skipped": skipped,
            "failed": [c.number for c in failed], "note": _note(rendered, skipped, [c.number for c in failed])}


def _render_chunk(chunk, fmt: str, logo, failed: list) -> list[tuple[Client, bytes]]:
    """One child renders the chunk; when it fails, each card is rendered alone so only the bad one is left out."""
    if not chunk:
        return []
    try:
        out = pdf.render_pdfs([h for _c, h, _v in chunk], merge=fmt == "pdf", logo=logo,
                              stylesheets=ss.PDF_STYLESHEETS)
    except (pdf.RenderTimeout, pdf.RenderFailed) as e:
        out = e
    return _chunk_results(chunk, fmt, out, logo, failed)


def _chunk_results(chunk, fmt: str, out, logo, failed: list) -> list[tuple[Client, bytes]]:
    """(card, PDF) pairs of a rendered chunk; when its render failed (`out` is the error), each card is rendered
    alone so only the bad one is left out (and added to `failed`)."""
    if not chunk:
        return []
    if not isinstance(out, Exception):
        return [(chunk[0][0], out)] if fmt == "pdf" else list(zip([c for c, _h, _v in chunk], out))
    if len(chunk) == 1:
        failed.append(chunk[0][0])
        return []
    results = []
    for item in chunk:
        results += _render_chunk([item], fmt, logo, failed)
    return results


def _join(parts: list[bytes]) -> bytes:
    """Concatenate chunk PDFs (pages, bookmarks) with pypdf."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _member_name(client: Client, brief: bool, used: set[str]) -> str:
    """A card's file name in the ZIP: number and name, unique, safe on every file system."""
    name = _safe_name(f"{client.number}-{client.name}")[:120]
    if name in used:
        name = f"{name}-{client.id}"
    used.add(name)
    return f"{name}-{'brief' if brief else 'card'}.pdf"


def _note(rendered: int, skipped: int, failed: list) -> str:
    parts = [_("%(n)s cards exported.", n=rendered)]
    if skipped:
        parts.append(_("%(n)s cards were left out: they were removed or you may no longer see them.", n=skipped))
    if failed:
        parts.append(_("These cards could not be made into a PDF: %(numbers)s.", numbers="、".join(failed[:20])))
    return " ".join(parts)
