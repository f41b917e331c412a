"""How the local FerretDB process is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from graceperiod.devstack.servers.processes import GOGC, FerretServer


def test_ferretdb_collects_garbage_less_often_unless_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    assert FerretServer(data_dir=tmp_path).environment()["GOGC"] == GOGC == "400"
    monkeypatch.setenv("GOGC", "100")
    assert FerretServer(data_dir=tmp_path).environment()["GOGC"] == "100"
