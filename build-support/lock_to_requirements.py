"""Print a Pants lockfile's pinned requirements (name==version) for auditing tools such as pip-audit.

Usage: python lock_to_requirements.py 3rdparty/python/python-default.lock
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def locked_requirements(lock_text: str) -> list[str]:
    # A Pants lockfile is a `//`-commented metadata header followed by pex's JSON lock.
    body = "\n".join(line for line in lock_text.splitlines() if not line.startswith("//"))
    lock = json.loads(body)
    pins: set[str] = set()
    for resolve in lock["locked_resolves"]:
        for req in resolve["locked_requirements"]:
            pins.add(f"{req['project_name']}=={req['version']}")
    if not pins:
        raise ValueError("the lockfile pins no requirements")
    return sorted(pins, key=str.lower)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print("\n".join(locked_requirements(Path(argv[1]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
