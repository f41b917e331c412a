"""docs/operations.md stays true: the configuration reference is the settings classes'
current fields, and every link into the document lands on a heading."""

from __future__ import annotations

import re
import subprocess

from graceperiod.devstack.local import config_reference
from graceperiod.devstack.local.config_reference import BEGIN, END, render_section, variables_by_component
from tests.deploy.conftest import ROOT

OPERATIONS = ROOT / "docs" / "operations.md"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_the_configuration_reference_is_generated_from_the_current_settings() -> None:
    document = OPERATIONS.read_text()
    assert document == render_section(document), (
        "docs/operations.md is out of date: run `uv run python -m graceperiod.devstack.local.config_reference`"
    )


def test_every_settings_field_has_a_row() -> None:
    document = OPERATIONS.read_text()
    table = document[document.index(BEGIN) : document.index(END)]
    for component, variables in variables_by_component().items():
        for variable in variables:
            row = next((line for line in table.splitlines() if line.startswith(f"| `{variable}` |")), None)
            assert row is not None, f"{variable} ({component}) is not documented"
            assert component in row or "all services" in row


def test_a_stale_table_is_detected_and_the_check_mode_passes_on_the_current_document() -> None:
    stale = OPERATIONS.read_text().replace("| `AMQP_URL` |", "| `AMQP_URL_OLD` |")
    assert render_section(stale) != stale
    assert config_reference.main(["--check"]) == 0


def test_every_link_into_the_operations_guide_has_a_heading() -> None:
    headings = {_anchor(line.lstrip("#")) for line in OPERATIONS.read_text().splitlines() if line.startswith("#")}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    links: set[tuple[str, str]] = set()
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".md", ".py", ".yaml", ".yml", ".sh", ".toml", ".json"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        links.update((name, anchor) for anchor in re.findall(r"operations\.md#([\w-]+)", text))
        if name == "docs/operations.md":
            links.update((name, anchor) for anchor in re.findall(r"\]\(#([\w-]+)\)", text))
    assert links
    broken = sorted((name, anchor) for name, anchor in links if anchor not in headings)
    assert not broken, f"links to missing headings: {broken}"
    assert "reapply-the-onboarding-bundle" in headings  # the dashboard banner links here
