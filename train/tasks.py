"""Tasks: which classes a model tells apart.  One record per task, one registry line each.

Importing this costs nothing (no numpy), so the CLI takes ``--task``'s
choices from ``TASKS`` at ``--help`` time.
"""

from __future__ import annotations

from dataclasses import dataclass

#: every class any dataset can teach; tasks pick their subset
ALL_LABELS = ("rest", "arms", "walk", "run", "squats", "cycle")


@dataclass(frozen=True)
class Task:
    """A label set with its name and what it is for."""

    name: str
    labels: tuple[str, ...]
    text: str

    def __post_init__(self):
        unknown = set(self.labels) - set(ALL_LABELS)
        if unknown:
            raise ValueError(f"task {self.name}: unknown classes {sorted(unknown)}")


#: the registry, in the order ``--task`` offers them
TASKS: dict[str, Task] = {t.name: t for t in (
    Task("activity5", ("rest", "arms", "walk", "run", "squats"), "five activities (the shipped activity5 model)"),
    Task("activity6", ("rest", "arms", "walk", "run", "squats", "cycle"), "activity5 plus cycling"),
    Task("rest_run", ("rest", "run"), "rest against running (the shipped rest_run model)"),
)}


def task_names() -> tuple[str, ...]:
    """The registered task names."""
    return tuple(TASKS)


def get_task(name: str) -> Task:
    """The task called ``name`` (ValueError naming the known ones)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r} (choose from {', '.join(TASKS)})")
    return TASKS[name]
