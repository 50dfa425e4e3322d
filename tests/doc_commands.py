"""The commands README.md and docs/*.md show, read from their fenced code blocks.

A documented command is a line of a ``` block that starts with one of bp_app's commands
(continuation lines joined, a trailing ``# comment`` dropped). Placeholders such as
``<time>`` or ``/path/to/data`` are filled in by the test that runs them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("bp-train", "bp-eval", "bp-predict", "bp-compare", "bp-bench", "python -m bp_app.train")


@dataclass(frozen=True)
class DocCommand:
    where: str  # 'docs/optim.md:62'
    program: str  # bp-train, bp-eval, ...
    args: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join([self.program, *self.args])


def strip_comment(line: str) -> str:
    """Drop a trailing '# ...' that is not inside quotes (docs put the meaning beside commands)."""
    quote = None
    for i, char in enumerate(line):
        if char in "'\"" and quote in (None, char):
            quote = None if quote else char
        elif char == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def commands_in(path: Path) -> list[DocCommand]:
    found: list[DocCommand] = []
    in_block = False
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        if raw.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        if pending is not None:
            start, text = pending
            text += " " + raw.strip()
        else:
            line = raw.strip()
            if not line.startswith(COMMANDS) or line.startswith("bp-train: error"):
                continue
            start, text = number, line
        if text.endswith("\\"):
            pending = (start, text[:-1])
            continue
        pending = None
        words = shlex.split(strip_comment(text))
        program = "python -m bp_app.train" if words[:2] == ["python", "-m"] else words[0]
        args = tuple(words[3:] if program.startswith("python") else words[1:])
        found.append(DocCommand(f"{path.relative_to(REPO)}:{start}", program, args))
    return found


def documented_commands() -> list[DocCommand]:
    """Every documented command, once (the first place it appears)."""
    seen: dict[tuple[str, tuple[str, ...]], DocCommand] = {}
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for command in commands_in(path):
            seen.setdefault((command.program, command.args), command)
    return list(seen.values())


def placeholder(value: str) -> bool:
    """A value the reader fills in: <time>, <run>, /path/to/..., or the folder an earlier
    documented command writes (a search's outputs/search/<name>)."""
    return bool(re.search(r"<[a-z_ ]+>|/path/to/|^outputs/search/", value))
