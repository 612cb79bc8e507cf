"""Where digests go: a mail server over SMTP, or a folder of .eml files.

It lives beside the store rather than in `dashboards`: sending is a batch job of the command
line, like the store's other writers, and must not load the web app (Dash, Flask) to run;
`dashboards` is the app, and never writes files.

Each digest is one real multipart/alternative message from the standard library's `email`
package: the plain text first, the HTML after (mail readers show the last part they can).
"""
from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from types import TracebackType
from typing import Protocol

from metrics.reviews.digest import Digest

SMTP_TIMEOUT_S = 30


class DeliveryError(Exception):
    """The mail server could not be reached, or refused a message; the message names the server."""


def email_message(digest: Digest, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = digest.recipient
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    return message


class Outbox(Protocol):
    """Opened once for a run (`with`), then handed every message; raises DeliveryError when one
    cannot be delivered."""

    def __enter__(self) -> Outbox: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...

    def send(self, message: EmailMessage) -> None: ...


class SmtpOutbox:
    """One SMTP session for the whole run. `send` returns only once the server accepted the
    message, so a caller records it as sent after `send`, never before."""

    def __init__(self, host: str, port: int, timeout: float = SMTP_TIMEOUT_S) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._smtp: smtplib.SMTP | None = None

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def __enter__(self) -> SmtpOutbox:
        try:
            self._smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"cannot reach the mail server {self.server}: {error}") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()  # the session is gone already; what was accepted stays accepted

    def send(self, message: EmailMessage) -> None:
        assert self._smtp is not None, "open the outbox with `with` first"
        try:
            self._smtp.send_message(message)  # one recipient: refusing it raises, never a partial success
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"the mail server {self.server} did not accept the digest to {message['To']}: "
                                f"{error}") from None


class EmlFolder:
    """Each message as `RECIPIENT.eml` in a folder (replacing an earlier run's file): to read
    before sending, or to hand to another mail system."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> EmlFolder:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DeliveryError(f"cannot write to {self.folder}: {error}") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        return None

    def path_for(self, recipient: str) -> Path:
        return self.folder / f"{re.sub(r'[^A-Za-z0-9@._-]', '_', recipient)}.eml"

    def send(self, message: EmailMessage) -> None:
        try:
            self.path_for(str(message["To"])).write_bytes(message.as_bytes())
        except OSError as error:
            raise DeliveryError(f"cannot write the digest to {message['To']} into {self.folder}: {error}") from None
