"""bandit finds nothing of medium or high severity in the product's packages.

A finding is either fixed or, when the code is safe, marked on its line with
``# nosec BXXX`` and the reason beside it or on the comment line above.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dsr", "connectors")
NOSEC_RE = re.compile(r"#\s*nosec\b(.*)")


def test_bandit_finds_nothing_of_medium_or_high_severity():
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", *PACKAGES,
         "--severity-level", "medium", "--format", "json", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    findings = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} ({r['issue_severity']}) {r['issue_text']}"
        for r in report["results"]
    ]
    assert findings == [], "\n".join(findings)
    assert report["errors"] == []  # every file was parsed
    assert report["metrics"]["_totals"]["loc"] > 5000  # it looked at the whole product
    assert result.returncode == 0, result.stderr


def test_every_nosec_names_its_check_and_says_why():
    marks = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text().splitlines()
            for number, line in enumerate(lines, start=1):
                if match := NOSEC_RE.search(line):
                    marks.append((path.relative_to(ROOT), number, match.group(1), lines[number - 2]))
    for path, number, rest, previous in marks:
        assert re.match(r"\s+B\d{3}\b", rest), f"{path}:{number}: name the bandit check (# nosec BXXX)"
        said_why = rest.split(":", 1)[-1].strip() if ":" in rest else ""
        assert said_why or "#" in previous, (
            f"{path}:{number}: say why beside the nosec or in a comment on the line above"
        )
    assert marks  # the scan above found the ones we know of
