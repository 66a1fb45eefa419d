"""The CI's pip-audit verdict: a known vulnerability fails, an unchecked build is reported as such."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pip_audit_verdict.py"


def verdict(report, rc: int = 0) -> subprocess.CompletedProcess:
    text = report if isinstance(report, str) else json.dumps(report)
    return subprocess.run([sys.executable, str(SCRIPT), str(rc)], input=text, capture_output=True, text=True,
                          timeout=30)


def test_known_vulnerability_fails():
    out = verdict({"dependencies": [{"name": "flask", "version": "0.12", "vulns": [{"id": "PYSEC-2018-66"}]},
                                    {"name": "dash", "version": "4.4.1", "vulns": []}]}, rc=1)
    assert out.returncode == 1 and "VULNERABLE flask 0.12: PYSEC-2018-66" in out.stderr


def test_clean_report_passes():
    out = verdict({"dependencies": [{"name": "dash", "version": "4.4.1", "vulns": []}]})
    assert out.returncode == 0 and "no known vulnerabilities" in out.stdout


def test_unreachable_or_unknown_packages_are_not_a_pass():
    assert verdict("", rc=1).returncode == 2
    out = verdict({"dependencies": [{"name": "dash", "version": "4.4.1", "skip_reason": "not found"}]})
    assert out.returncode == 2 and "NOT checked" in out.stderr
