#!/usr/bin/env python3
"""Runs an example and checks its standard output.

    expect_output.py PATTERN... -- COMMAND [ARG...]

Each PATTERN is a regular expression that must match a line of the output, in the
order given. The output is echoed so that meson's test log shows it.
"""
import re
import subprocess
import sys


def main(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    patterns, command = argv[:split], argv[split + 1:]
    run = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=60)
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        print(f"exit status {run.returncode}", file=sys.stderr)
        return 1
    lines = run.stdout.splitlines()
    at = 0
    for pattern in patterns:
        while at < len(lines) and not re.search(pattern, lines[at]):
            at += 1
        if at == len(lines):
            print(f"no line matches {pattern!r} (in order)", file=sys.stderr)
            return 1
        at += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
