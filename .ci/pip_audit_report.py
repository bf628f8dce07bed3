#!/usr/bin/env python3
"""CI's dependency audit: pip-audit over requirements.txt, judged here.

Exit 0 when nothing known is vulnerable, 1 when something is (each finding listed), 2 when pip-audit failed
for another reason. When the vulnerability database cannot be reached (a machine whose only way out is a
package mirror: the PyPI JSON API and OSV are other hosts), the audit says so plainly and exits 0, because
a run must not fail for a network it cannot change; pip-audit itself would either fail with a connection
error (OSV) or report "No known vulnerabilities found" with every dependency skipped (PyPI), which reads as
a pass it is not.

    .venv/bin/python .ci/pip_audit_report.py [requirements.txt]
"""

import json
import subprocess
import sys
from pathlib import Path

UNREACHABLE_MARKERS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "timed out",
)


def judge(returncode, stdout, stderr):
    """(exit status, report lines) for one pip-audit run with `-f json`."""
    try:
        document = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        document = None
    if document is None:
        if any(marker in stderr for marker in UNREACHABLE_MARKERS):
            last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            return 0, [
                "pip-audit: NOT AUDITED: the vulnerability database cannot be reached from this machine.",
                f"  {last[:300]}",
                "  Run `.venv/bin/python .ci/pip_audit_report.py` where it can be reached; the run goes on.",
            ]
        return 2, ["pip-audit failed:", *stderr.strip().splitlines()[-20:]]
    dependencies = document.get("dependencies", []) if isinstance(document, dict) else []
    audited = [d for d in dependencies if "skip_reason" not in d]
    skipped = [d for d in dependencies if "skip_reason" in d]
    findings = [(d, v) for d in audited for v in d.get("vulns", [])]
    if findings:
        lines = [f"pip-audit: {len(findings)} known vulnerabilities:"]
        for dep, vuln in findings:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            lines.append(f"  {dep['name']} {dep.get('version', '')}: {vuln.get('id', '?')} (fixed in: {fixes})")
        return 1, lines
    if dependencies and not audited:
        reason = skipped[0].get("skip_reason", "")
        return 0, [
            f"pip-audit: NOT AUDITED: none of the {len(skipped)} dependencies could be looked up in the "
            "vulnerability database (it cannot be reached from this machine); the run goes on.",
            f"  e.g. {reason[:300]}",
        ]
    lines = [f"pip-audit: {len(audited)} dependencies audited, no known vulnerabilities."]
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        lines.append(f"  not audited ({len(skipped)}): {names}")
    return 0, lines


def main(argv):
    requirements = argv[1] if len(argv) > 1 else "requirements.txt"
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "-r", requirements, "-f", "json", "--progress-spinner", "off"]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        print("pip-audit: NOT AUDITED: no answer within 15 minutes (the database is unreachable?); the run goes on.")
        return 0
    status, lines = judge(run.returncode, run.stdout, run.stderr)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
