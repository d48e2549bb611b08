"""The development outbox: every email `make run` sends lands as one file under var/outbox/.

A new user evaluating the clinic sees the patient's reminder and survey emails on the staff
Outbox page (debug only, clinic.views.outbox_list) and can follow their links, with no mail
server. Production sends over SMTP (EMAIL_URL); this backend refuses to be chosen there.
"""

import email
import email.policy
import itertools
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

# Only names this backend writes can be read back: no path can leave the outbox.
MESSAGE_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9]{6}-[0-9]+-[0-9]+\.eml$")
LINK = re.compile(r"https?://[^\s<>\"')\]]+")
_counter = itertools.count(1)
_lock = threading.Lock()
BACKEND = "clinic.mail.OutboxBackend"


def outbox_in_use() -> bool:
    """Emails are kept here rather than sent: a development server's, never production's."""
    return settings.DEBUG and settings.EMAIL_BACKEND == BACKEND


class OutboxBackend(BaseEmailBackend):
    """Writes each message as an RFC 5322 .eml file in settings.EMAIL_OUTBOX_DIR."""

    def send_messages(self, email_messages):
        folder = Path(settings.EMAIL_OUTBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            with _lock:
                number = next(_counter)
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S-%f")
            # The process id keeps the web server's and the worker's files apart.
            name = f"{stamp}-{os.getpid()}-{number}.eml"
            partial = folder / f".{name}.part"
            partial.write_bytes(message.message().as_bytes(linesep="\n"))
            partial.rename(folder / name)  # the page never sees half a message
            sent += 1
        return sent


@dataclass(frozen=True)
class OutboxMessage:
    name: str
    to: str
    subject: str
    date: str
    text: str
    links: list[str]
    attachments: list[str]


def _read(path: Path) -> OutboxMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    attachments = [
        part.get_filename() or part.get_content_type() for part in parsed.iter_attachments()
    ]
    return OutboxMessage(
        name=path.name,
        to=str(parsed.get("To", "")),
        subject=str(parsed.get("Subject", "")).strip(),
        date=str(parsed.get("Date", "")),
        text=text,
        links=list(dict.fromkeys(LINK.findall(text))),
        attachments=attachments,
    )


def outbox_messages(limit: int = 200) -> list[OutboxMessage]:
    """The newest `limit` messages in the outbox, newest first."""
    folder = Path(settings.EMAIL_OUTBOX_DIR)
    if not folder.is_dir():
        return []
    names = sorted((p for p in folder.iterdir() if MESSAGE_NAME.match(p.name)), reverse=True)
    return [_read(path) for path in names[:limit]]


def outbox_message(name: str) -> OutboxMessage | None:
    if not MESSAGE_NAME.match(name):
        return None
    path = Path(settings.EMAIL_OUTBOX_DIR) / name
    return _read(path) if path.is_file() else None
