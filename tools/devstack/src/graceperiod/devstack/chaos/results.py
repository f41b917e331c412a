"""What a chaos run reports: its result (the verdict and the figures), and progress bars while it
runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


@dataclass
class Result:
    scenario: str
    title: str
    inputs_sent: int = 0
    effects_expected: int = 0
    effects_observed: int = 0
    lost: int = 0
    duplicated: int = 0
    recover_seconds: float | None = None
    seconds: float = 0.0
    pending: str | None = None
    tolerated_duplicates: int = 0
    """Duplicates the scenario's fault can cause by nature (a crash between an external
    effect and its record); more than this, or any other duplicate, fails the scenario."""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.pending is None
            and not self.problems
            and self.lost == 0
            and self.duplicated <= self.tolerated_duplicates
        )

    @property
    def status(self) -> str:
        if self.pending is not None:
            return "pending"
        if not self.ok:
            return "FAIL"
        return "pass" if self.duplicated == 0 else "bounded"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


class Ui:
    """Progress bars (or nothing, under pytest)."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress

    def task(self, description: str, total: float) -> TaskID | None:
        return self.progress.add_task(description, total=total) if self.progress is not None else None

    def update(self, task: TaskID | None, completed: float) -> None:
        if self.progress is not None and task is not None:
            self.progress.update(task, completed=completed)

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.log(text)


def progress_bars() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description:<44}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )


def load_average() -> list[float]:
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return []
