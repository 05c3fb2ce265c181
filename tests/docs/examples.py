"""The code examples of the README and docs/: fenced blocks, by language, with where they are."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/connectors.md", "docs/bundle.md", "docs/benchmarks.md")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Block:
    path: str
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}, line {self.line}"

    def commands(self) -> list[list[str]]:
        """A shell block's commands as argv lists: comments dropped, continued lines joined."""
        joined = self.text.replace("\\\n", " ")
        return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def blocks(lang: str | None = None) -> list[Block]:
    found = []
    for name in DOCUMENTS:
        text = (ROOT / name).read_text()
        for match in FENCE.finditer(text):
            indent = len(match.group("indent"))
            body = "\n".join(line[indent:] for line in match.group("body").splitlines()) + "\n"
            block = Block(name, text[: match.start()].count("\n") + 1, match.group("lang"), body)
            if lang is None or block.lang == lang:
                found.append(block)
    return found
