"""`make chaos --only …` writes its rows into the docs' tables without losing the rows of the
scenarios and sizes it did not run."""

from __future__ import annotations

from pathlib import Path

from graceperiod.devstack.chaos import report
from graceperiod.devstack.chaos.results import Result
from graceperiod.devstack.chaos.sizes import CI, LONG

HEADER = "| scenario | status | lost |\n|---|---|---|\n"
EARLIER = (
    "Measured 2026-11-21 22:24 UTC (size `long`: 1000 purchases at 50/s, outages 30 s), vm.\n\n"
    f"{HEADER}| kill-revocation | pass | 0 |\n| cluster-partition | FAIL | 3 |\n\n"
    "* **kill-revocation**: killed twice\n* **cluster-partition**: PROBLEM: lost 3\n"
    "\nMeasured 2026-12-02 15:58 UTC (size `ci`: 100 purchases at 10/s, outages 8 s), vm.\n\n"
    f"{HEADER}| cluster-partition | pass | 0 |\n\n* **cluster-partition**: minority: rabbit@10.237.0.10\n"
)


def _doc(tmp_path: Path, section: str) -> Path:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Results\n\n{report.DOC_BEGIN}\n{section}{report.DOC_END}\n\nAfter.\n")
    return doc


def _results(*names: str) -> list[Result]:
    return [Result(name, name, inputs_sent=1000, effects_expected=4000, effects_observed=4000) for name in names]


def test_a_run_of_some_scenarios_replaces_only_their_rows_at_its_size(tmp_path: Path) -> None:
    doc = _doc(tmp_path, EARLIER)
    text = report.markdown(_results("cluster-partition", "cluster-node-kill"), size=LONG, when="2026-12-03 06:00 UTC")
    assert report.write_doc_section(doc, text, size="long", scenarios=["cluster-partition", "cluster-node-kill"])

    written = doc.read_text()
    assert written.startswith("# Results\n\n")
    assert written.endswith("\n\nAfter.\n")
    assert "| kill-revocation | pass | 0 |" in written  # not run: kept, with its note
    assert "* **kill-revocation**: killed twice" in written
    assert "| cluster-partition | FAIL | 3 |" not in written  # its earlier long row is replaced
    assert "PROBLEM: lost 3" not in written
    assert "minority: rabbit@10.237.0.10" in written  # the CI size's row stays
    assert written.count("| cluster-partition | pass |") == 2  # long (new) and ci (earlier)
    assert written.index("2026-12-03 06:00") < written.index("2026-12-02 15:58")  # where the long block was


def test_a_block_left_without_rows_goes(tmp_path: Path) -> None:
    doc = _doc(tmp_path, EARLIER)
    text = report.markdown(_results("cluster-partition"), size=CI, when="2026-12-03 06:00 UTC")
    assert report.write_doc_section(doc, text, size="ci", scenarios=["cluster-partition"])
    written = doc.read_text()
    assert "2026-12-02 15:58" not in written
    assert "2026-11-21 22:24" in written
    assert "2026-12-03 06:00" in written


def test_the_first_run_of_a_size_adds_its_block(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "")
    text = report.markdown(_results("cluster-host-cut"), size=CI, when="2026-12-03 06:00 UTC")
    assert report.write_doc_section(doc, text, size="ci", scenarios=["cluster-host-cut"])
    assert "| cluster-host-cut | pass |" in doc.read_text()
