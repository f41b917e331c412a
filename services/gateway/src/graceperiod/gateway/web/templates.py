"""The Jinja2 environment of every page: autoescaped, strict about undefined names, with the
filters and tests every page shares. Money, times and names come from the modules the
notifier's emails use too (``graceperiod.contracts.formatting`` and ``.vocabulary``), so a page
and an email never write them differently; the sentences of
:mod:`~graceperiod.gateway.explain` and the permissions are globals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine

from graceperiod.contracts import formatting, vocabulary
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.revocation_views import CaseOutcome
from graceperiod.gateway import explain

TEMPLATES = Path(__file__).parent.parent / "templates"
STATIC = Path(__file__).parent.parent / "static"


def remaining(until: datetime | None, now: datetime) -> str:
    """``3 hours 12 minutes``; ``""`` when past or unknown (for "… left" sentences)."""
    if until is None or until <= now:
        return ""
    return formatting.duration(until - now)


def template_engine() -> JinjaTemplateEngine:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.JINJA_FILTERS)
    env.filters.update(vocabulary.JINJA_FILTERS)
    env.filters["iso"] = formatting.utc  # the older name some pages use
    env.filters["cost"] = explain.cost
    env.tests.update(formatting.JINJA_TESTS)
    env.globals.update(remaining=remaining, explain=explain, vocabulary=vocabulary, Permission=Permission)
    env.globals.update(CaseOutcome=CaseOutcome)
    return JinjaTemplateEngine.from_environment(env)
