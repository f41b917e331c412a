"""The Jinja2 environment of every page: autoescaped, strict about undefined names, with the
filters and globals the templates share (times, money, phase labels, the words of
:mod:`~graceperiod.gateway.explain`, the permissions)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.revocation import Phase
from graceperiod.gateway import explain

TEMPLATES = Path(__file__).parent.parent / "templates"
STATIC = Path(__file__).parent.parent / "static"


def phase_label(phase: Phase) -> str:
    return explain.PHASE_LABELS.get(phase, str(phase))


def template_engine() -> JinjaTemplateEngine:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = explain.iso
    env.filters["money"] = explain.money
    env.filters["cost"] = explain.cost
    env.globals.update(remaining=explain.remaining, phase_label=phase_label, explain=explain, Permission=Permission)
    return JinjaTemplateEngine.from_environment(env)
