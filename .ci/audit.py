"""Audit the installed Python packages for known vulnerabilities (pip-audit).

    python .ci/audit.py [pip-audit options]        # make audit; CI runs it after the tests

Exits 1 when a package has a known vulnerability. When no vulnerability data can be
reached (PyPI's JSON API and OSV, both online services), it says so and exits 0: an
unreachable feed is not a finding, and CI goes on. A service that answers "not found"
for every package counts as unreachable too (a PyPI mirror without the JSON API).

Services tried, in order: PIP_AUDIT_VULNERABILITY_SERVICE if set, else PyPI, then OSV
(PIP_AUDIT_OSV_URL points pip-audit at another OSV server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

UNREACHABLE = "pip-audit: vulnerability data unreachable, dependencies not audited"


def audit(service: str, options: list[str]) -> dict | None:
    """pip-audit's JSON report from one service, or None when it could not produce one."""
    command = [
        sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
        "--skip-editable", "--vulnerability-service", service, *options,
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=1800)
    try:
        return json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit ({service}): no report: {last[:300]}")
        return None


def main(options: list[str]) -> int:
    chosen = os.environ.get("PIP_AUDIT_VULNERABILITY_SERVICE")
    for service in [chosen] if chosen else ["pypi", "osv"]:
        report = audit(service, options)
        if report is None:
            continue
        packages = report["dependencies"]
        audited = [p for p in packages if "skip_reason" not in p]
        if not audited:
            print(f"pip-audit ({service}): none of {len(packages)} packages could be looked up")
            continue
        skipped = sorted(p["name"] for p in packages if "skip_reason" in p)
        print(f"pip-audit ({service}): {len(audited)} packages audited"
              + (f"; not found there: {', '.join(skipped)}" if skipped else ""))
        found = [
            f"  {p['name']} {p['version']}: {v['id']}"
            f" (fixed in {', '.join(v['fix_versions']) or 'no release yet'})"
            for p in audited
            for v in p.get("vulns", [])
        ]
        if found:
            print(f"pip-audit: {len(found)} known vulnerabilities:", *found, sep="\n")
            return 1
        print("pip-audit: no known vulnerabilities")
        return 0
    print(UNREACHABLE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
