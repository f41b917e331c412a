"""Turns what an email says (:mod:`graceperiod.notifier.domain.emails`) into HTML and plain text.

Templates are files in this package's ``templates/`` directory (Jinja2, autoescaped for
HTML). The stylesheet ``email.css`` is inlined into ``style`` attributes at render time with
css-inline: Gmail, Outlook and most webmail clients drop or ignore ``<style>`` blocks, so
only inline styles survive. Inlining at render time keeps the templates readable; it costs
~0.1 ms per email.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from graceperiod.contracts import formatting, vocabulary
from graceperiod.notifier.domain.emails import Email, ExecutedEmail, OutcomeEmail, PoolAlertEmail, stable_message_id
from graceperiod.notifier.domain.reminders import ReminderEmail

PURCHASE_HEADER = "X-Grace-Period-Purchase"
KIND_HEADER = "X-Grace-Period-Email"


def build_environment() -> Environment:
    """The templates' environment, with the shared filters and tests for money, times and
    labels (the dashboard registers the same ones)."""
    env = Environment(
        loader=PackageLoader("graceperiod.notifier", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates ship inside the package: no need to stat their files on every render.
        auto_reload=False,
    )
    env.filters.update(formatting.JINJA_FILTERS)
    env.filters.update(vocabulary.JINJA_FILTERS)
    env.tests.update(formatting.JINJA_TESTS)
    return env


class EmailRenderer:
    def __init__(self, environment: Environment | None = None) -> None:
        self._env = environment or build_environment()
        self._inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
        loader = self._env.loader
        assert loader is not None
        self._stylesheet, _, _ = loader.get_source(self._env, "email.css")

    def _html(self, template: str, **context: Any) -> str:
        html = self._env.get_template(template).render(stylesheet=self._stylesheet, **context)
        return str(self._inliner.inline(html))

    def _text(self, template: str, **context: Any) -> str:
        return self._env.get_template(template).render(**context)

    def executed(self, email: ExecutedEmail) -> Email:
        return self.executed_many(email, [(email.recipient, email.revoke_url)])[0]

    def executed_many(self, email: ExecutedEmail, recipients: Sequence[tuple[str, str | None]]) -> list[Email]:
        """The same email for several recipients, each with their own link.

        Rendered (and its CSS inlined) once, with placeholders where the recipient and the
        link go, then personalised by substitution: rendering is most of an email's CPU cost.
        """
        return self._linked("executed", email, recipients)

    def reminder_many(self, email: ReminderEmail, recipients: Sequence[tuple[str, str | None]]) -> list[Email]:
        """The reminder before the self-service window closes, like :meth:`executed_many`."""
        return self._linked("reminder", email, recipients)

    def _linked(
        self, name: str, email: ExecutedEmail | ReminderEmail, recipients: Sequence[tuple[str, str | None]]
    ) -> list[Email]:
        with_link = any(url for _, url in recipients)
        template = replace(email, recipient=_RECIPIENT, revoke_url=_LINK if with_link else None)
        text = self._text(f"{name}.txt.j2", email=template)
        html = self._html(f"{name}.html.j2", email=template)
        purchase_id = email.facts.purchase_id
        headers = ((PURCHASE_HEADER, purchase_id), (KIND_HEADER, str(email.kind)))
        each = [
            (recipient, url, stable_message_id(email.kind, purchase_id, recipient)) for recipient, url in recipients
        ]
        return _personalised(email.subject, text, html, headers, each)

    def outcome(self, email: OutcomeEmail, *, purchase_id: str, occurrence: str) -> Email:
        return self.outcome_many(email, [email.recipient], purchase_id=purchase_id, occurrence=occurrence)[0]

    def outcome_many(
        self, email: OutcomeEmail, recipients: Sequence[str], *, purchase_id: str, occurrence: str
    ) -> list[Email]:
        template = replace(email, recipient=_RECIPIENT)
        text = self._text("outcome.txt.j2", email=template)
        html = self._html("outcome.html.j2", email=template)
        headers = ((PURCHASE_HEADER, purchase_id), (KIND_HEADER, f"{email.kind}:{email.change}"))
        each = [
            (recipient, None, stable_message_id(email.kind, purchase_id, recipient, occurrence))
            for recipient in recipients
        ]
        return _personalised(email.subject, text, html, headers, each)

    def pool_alert_many(self, email: PoolAlertEmail, recipients: Sequence[str], *, alert_id: str) -> list[Email]:
        template = replace(email, recipient=_RECIPIENT)
        text = self._text("pool_alert.txt.j2", email=template)
        html = self._html("pool_alert.html.j2", email=template)
        headers = ((KIND_HEADER, str(email.kind)),)
        each = [(recipient, None, stable_message_id(email.kind, alert_id, recipient)) for recipient in recipients]
        return _personalised(email.subject, text, html, headers, each)


#: Placeholders: plain ASCII that neither autoescaping nor CSS inlining changes.
_RECIPIENT = "gp-recipient-7c1e5a@placeholder.invalid"
_LINK = "https://placeholder.invalid/gp-link-7c1e5a"


def _personalised(
    subject: str,
    text: str,
    html: str,
    headers: tuple[tuple[str, str], ...],
    recipients: Sequence[tuple[str, str | None, str]],
) -> list[Email]:
    """One email per (recipient, their link, Message-ID) from a rendering with placeholders."""
    return [
        Email(
            to=recipient,
            subject=subject,
            text=_personalise(text, recipient, url, escape_html=False),
            html=_personalise(html, recipient, url, escape_html=True),
            message_id=message_id,
            headers=headers,
        )
        for recipient, url, message_id in recipients
    ]


def _personalise(rendered: str, recipient: str, url: str | None, *, escape_html: bool) -> str:
    def value(text: str) -> str:
        return str(escape(text)) if escape_html else text

    out = rendered.replace(_RECIPIENT, value(recipient))
    if url is not None:
        out = out.replace(_LINK, value(url))
    return out
