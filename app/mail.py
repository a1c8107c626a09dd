"""Outgoing mail. Without SMTP_URL the message is written to the log (and kept in an outbox for tests)."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

from flask import current_app

log = logging.getLogger("clientcard.mail")


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text mail, or log it when no SMTP server is configured."""
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    current_app.extensions.setdefault("mail_outbox", []).append(msg)
    url = current_app.config.get("SMTP_URL")
    if not url:
        log.info("SMTP_URL not set; mail to %s not sent:\nSubject: %s\n\n%s", to, subject, body)
        return
    parts = urlparse(url)  # smtp://user:pass@host:587 or smtps://...
    port = parts.port or (465 if parts.scheme == "smtps" else 587)
    smtp_cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with smtp_cls(parts.hostname, port, timeout=10) as smtp:
        if parts.scheme == "smtp" and port != 25:
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg)
