#!/usr/bin/env python3
"""Fails when the fuzz build (fuzz/CMakeLists.txt) lists too few sources to link.

The fuzz build compiles only the decoders' own sources, by hand-kept list, so a new .cpp that a
listed source starts to use is missed until the fuzz stage of scripts/test.sh fails to link,
some 30 minutes into CI. This check follows the quoted includes of the harnesses and of every
listed source, and asks that each header with a .cpp beside it (or, for include/fedsilo/, one
.cpp of that name under src/) has that .cpp in the list.

Usage: fuzz_sources_check.py REPO_ROOT
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
LIST = re.compile(r"add_library\(fuzz_sources\s+STATIC(.*?)\)", re.S)


def resolve(root, including, name):
    for base in (including.parent, root / "src", root / "include"):
        candidate = (base / name).resolve()
        if candidate.is_file():
            return candidate
    return None


def implementation_of(root, header):
    beside = header.with_suffix(".cpp")
    if beside.is_file():
        return beside
    if (root / "include") in header.parents:
        found = sorted((root / "src").rglob(header.stem + ".cpp"))
        if len(found) == 1:
            return found[0]
    return None


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    cmake = (root / "fuzz" / "CMakeLists.txt").read_text()
    listed_text = LIST.search(cmake)
    if not listed_text:
        print("fuzz/CMakeLists.txt: no add_library(fuzz_sources STATIC ...) found")
        return 1
    listed = {(root / "src" / p).resolve() for p in re.findall(r"\$\{SRC\}/(\S+\.cpp)", listed_text.group(1))}
    missing_files = [p for p in listed if not p.is_file()]
    harnesses = sorted((root / "fuzz").glob("fuzz_*.cpp"))
    todo = list(harnesses) + sorted(listed)
    seen = set(todo)
    needed = {}
    while todo:
        source = todo.pop()
        for name in INCLUDE.findall(source.read_text()):
            header = resolve(root, source, name)
            if header is None:
                continue
            follow = [header]
            impl = implementation_of(root, header)
            if impl is not None:
                needed.setdefault(impl, source)
                follow.append(impl)
            for path in follow:
                if path not in seen:
                    seen.add(path)
                    todo.append(path)
    failures = [f"{p.relative_to(root)} is listed but does not exist" for p in missing_files]
    for impl, by in sorted(needed.items()):
        if impl not in listed:
            failures.append(f"{impl.relative_to(root)} is needed (through {by.relative_to(root)}) but not in "
                            "fuzz/CMakeLists.txt's fuzz_sources")
    for line in failures:
        print(line)
    if not failures:
        print(f"fuzz_sources: {len(listed)} sources, closed under the includes of {len(harnesses)} harnesses")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
