"""Print one closing line for a test run from Pants' JUnit XML reports: 'tests: N passed, N failed, N skipped'.

Exits 1 when a report shows a failure or error, or when no test ran at all.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET  # nosec B405 - parses our own test reports
from pathlib import Path


def summarize(report_dir: Path) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    for path in sorted(report_dir.rglob("*.xml")):
        root = ET.parse(path).getroot()  # nosec B314 - our own test reports
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for suite in suites:
            total = int(suite.get("tests", 0))
            bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skip = int(suite.get("skipped", 0))
            failed += bad
            skipped += skip
            passed += total - bad - skip
    return passed, failed, skipped


def main(argv: list[str]) -> int:
    report_dir = Path(argv[1] if len(argv) > 1 else "dist/test/reports")
    passed, failed, skipped = summarize(report_dir)
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
