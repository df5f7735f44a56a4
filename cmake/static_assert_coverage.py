#!/usr/bin/env python3
"""Lists the static_assert messages under include/ that no compile-fail test expects.

Every `static_assert(condition, "cachet...: rule; fix")` in the headers is a diagnostic a user
may read, so each one has a test in tests/compile_fail/ whose first line, `// expect: <regex>`,
matches it (cmake/compile_fail.cmake checks that the regex matches the first error). Messages are
the concatenated string literals of the assert; asserts without one (internal invariants) are
skipped. Exits 1, listing file:line and message, when one is not covered or does not name a fix
(after the facility, a rule and then a fix: past a ';', or an example, "e.g." or "such as").

    python3 cmake/static_assert_coverage.py --include-dir include --tests tests/compile_fail
"""

import argparse
import pathlib
import re
import sys

STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
EXPECT = re.compile(r"^// expect: (.+)$")
# A fix is said after the rule, past a ';', or shown by an example ("e.g.", "such as").
FIX = re.compile(r";|\be\.g\.|\bsuch as\b")


def static_assert_messages(path: pathlib.Path):
    """(line, message) of each static_assert in `path` that has a message."""
    text = path.read_text(encoding="utf-8")
    for match in re.finditer(r"\bstatic_assert\s*\(", text):
        depth, i = 1, match.end()
        in_string = False
        while i < len(text) and depth:
            c = text[i]
            if in_string:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        call = text[match.end():i - 1]
        literals = STRING.findall(call)
        message = "".join(literals).encode().decode("unicode_escape")
        if message.startswith("cachet"):
            yield text.count("\n", 0, match.start()) + 1, message


def expectations(tests: pathlib.Path):
    for source in sorted(tests.glob("*.cpp")):
        first = source.read_text(encoding="utf-8").splitlines()[:1]
        match = EXPECT.match(first[0]) if first else None
        if match:
            yield source.name, re.compile(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--include-dir", required=True, type=pathlib.Path)
    parser.add_argument("--tests", required=True, type=pathlib.Path)
    args = parser.parse_args()

    expected = list(expectations(args.tests))
    problems = []
    count = 0
    for header in sorted(args.include_dir.rglob("*.hpp")):
        for line, message in static_assert_messages(header):
            count += 1
            where = f"{header.relative_to(args.include_dir)}:{line}"
            if not any(regex.search(message) for _, regex in expected):
                problems.append(f"{where}: no compile-fail test expects: {message}")
            if not FIX.search(message.partition(": ")[2]):
                problems.append(f"{where}: names no fix (rule; fix): {message}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"static_assert_coverage.py: {len(problems)} problem(s) in {count} messages; add a "
              "test to tests/compile_fail/ (first line `// expect: <regex>`, with a "
              "CACHET_PASSING_TWIN half), or say the fix in the message", file=sys.stderr)
        return 1
    print(f"static_assert_coverage.py: all {count} messages are tested and name a fix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
