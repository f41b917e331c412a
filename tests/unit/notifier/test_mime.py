"""The MIME message the transports send, parsed back with the standard library."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart

import pytest

from graceperiod.notifier.adapters.mail import to_bytes
from graceperiod.notifier.domain.emails import Email


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def email(**changes: str) -> Email:
    values = {
        "subject": "[Grace Period] Purchase executed",
        "text": "Hello\nLine two\n",
        "html": "<p>Hello</p>\n<p>Line two</p>\n",
        **changes,
    }
    return Email("owner@example.com", values["subject"], values["text"], values["html"], "<x@graceperiod>")


def content(part: MIMEPart) -> str:
    return str(part.get_content()).replace("\r\n", "\n")


def test_ascii_parts_go_as_7bit_with_crlf_line_ends() -> None:
    raw = to_bytes(email(), "Grace Period <gp@example.com>")
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    message = parse(raw)
    parts = list(message.iter_parts())
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["7bit", "7bit"]
    assert content(parts[0]) == "Hello\nLine two\n"
    assert message["From"] == "Grace Period <gp@example.com>"


def test_non_ascii_survives_in_subject_sender_and_both_parts() -> None:
    raw = to_bytes(
        email(subject="Achat exécuté: Zürich €", text="Coût: 13 140,00 €\n", html="<p>Coût: 13 140,00 €</p>"),
        "Grâce Période <gp@example.com>",
    )
    assert raw.isascii()
    message = parse(raw)
    assert message["Subject"] == "Achat exécuté: Zürich €"
    assert message["From"].addresses[0].display_name == "Grâce Période"
    text, html = (content(part) for part in message.iter_parts())
    assert text == "Coût: 13 140,00 €\n"
    assert "Co&#251;t" in html  # character references: ASCII HTML, same page
    assert "13 140,00 &#8364;" in html


@pytest.mark.parametrize(("kind", "encoding"), [("text", "quoted-printable"), ("html", "base64")])
def test_lines_too_long_for_smtp_are_encoded(kind: str, encoding: str) -> None:
    long_line = "x" * 2000 + "\n"
    raw = to_bytes(email(**{kind: long_line}), "gp@example.com")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = parse(raw)
    part = list(message.iter_parts())[0 if kind == "text" else 1]
    assert part["Content-Transfer-Encoding"] == encoding
    assert content(part) == long_line


def test_plain_text_only_email() -> None:
    message = parse(to_bytes(Email("a@example.com", "S", "Only text\n", None, "<m@gp>"), "gp@example.com"))
    assert message.get_content_type() == "text/plain"
    assert content(message) == "Only text\n"


def test_a_header_value_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        to_bytes(email(subject="a\r\nBcc: x@example.com"), "gp@example.com")
