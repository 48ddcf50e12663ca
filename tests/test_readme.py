"""The README and docs/ say how to use the tool: every command line they show must parse with today's
options, and the replay-side commands must run as shown, in the order shown, on a real capture."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from conftest import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands(markdown: str) -> list[str]:
    """The ``ecg-activity ...`` lines of markdown's indented code blocks (continuations joined)."""
    out, lines = [], markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("    ") and "ecg-activity " in line and not line.strip().startswith("#"):
            text = line.strip()
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1] + " " + lines[i].strip()
            for part in re.split(r"\s*&&\s*", text):
                part = part.strip()
                if part.startswith((".venv/bin/ecg-activity ", "ecg-activity ")):
                    out.append(part.split("ecg-activity ", 1)[1])
        i += 1
    return out


def _args(command: str) -> list[str]:
    return shlex.split(command, comments=True)


CASES = [(p.relative_to(ROOT).as_posix(), c) for p in DOCS for c in shown_commands(p.read_text())]


def test_the_docs_show_commands_at_all():
    assert len(CASES) > 30 and {"README.md", "docs/field-guide.md", "docs/fleet.md"} <= {p for p, _ in CASES}


@pytest.mark.parametrize("doc,command", CASES, ids=[f"{p}:{c[:40]}" for p, c in CASES])
def test_every_command_the_docs_show_parses(doc, command, capsys):
    """Parsing only (no device, no broker, no training here): an option renamed or removed breaks this."""
    from ecg_activity.cli import build_parser

    args = _args(command)
    try:
        a = build_parser().parse_args(args)
    except SystemExit as e:
        err = capsys.readouterr().err
        assert e.code == 0 and "--help" in args, f"{doc}: ecg-activity {command}\n{err}"
        return
    assert getattr(a, "func", None), f"{doc}: ecg-activity {command} names no command"


def test_the_readmes_replay_commands_run_as_shown(tmp_path):
    """The README's "Developers replaying captures" block, line for line, on a capture of the virtual
    wearable named as the README names it."""
    cli("record", "--source", "sim:frame", "--speed", "max", "--label", "walk", "-o", str(tmp_path / "walk1.ecgcap"),
        "-q", check=True)
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Developers replaying captures", 1)[1].split("##", 1)[0]
    commands = shown_commands(block)
    assert [c.split()[0] for c in commands] == ["info", "replay", "plot", "export", "import"]
    for command in commands:
        args = _args(command)
        if args[0] == "import":                          # the README imports "other.edf": make one
            cli("export", "walk1.ecgcap", "-o", "other.edf", cwd=tmp_path, check=True)
        p = cli(*args, cwd=tmp_path, timeout=300)
        assert p.returncode == 0 and "error" not in p.stderr.lower().replace("crc errors", ""), (command, p.stderr)
    summary = json.loads(cli("import", "other.edf", "-o", "again.ecgcap", cwd=tmp_path, check=True).stdout)
    assert summary["samples"] > 40_000 and (tmp_path / "walk1.png").exists() and (tmp_path / "walk1.bdf").exists()

