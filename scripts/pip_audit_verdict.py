"""Read pip-audit's JSON on stdin and decide: exit 0 all checked and clean,
1 a known vulnerability, 2 not (fully) checked (PyPI unreachable, or packages
it could not look up). The reason is printed in one or two plain lines."""
from __future__ import annotations

import json
import sys


def main() -> int:
    audit_rc = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    raw = sys.stdin.read()
    try:
        report = json.loads(raw) if raw.strip() else None
    except ValueError:
        report = None
    if report is None:
        print(f"checks: pip-audit could not run (exit {audit_rc}; is PyPI reachable?): dependencies NOT checked",
              file=sys.stderr)
        return 2
    deps = report.get("dependencies", [])
    vulnerable = [(d["name"], d.get("version"), v.get("id")) for d in deps for v in d.get("vulns") or []]
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    for name, version, vuln in vulnerable:
        print(f"checks: VULNERABLE {name} {version}: {vuln}", file=sys.stderr)
    if vulnerable:
        return 1
    if skipped:
        print(f"checks: pip-audit could not look up {len(skipped)} of {len(deps)} pinned packages on PyPI "
              f"({', '.join(skipped[:6])}{'...' if len(skipped) > 6 else ''}): they are NOT checked", file=sys.stderr)
        return 2
    print(f"checks: pip-audit: {len(deps)} pinned packages, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
