#!/usr/bin/env python3
"""Fails when a source file includes a layer above its own (docs/architecture.md, "Layers"),
or when a source file grows past 400 lines without saying why in its first lines.

Usage: layering_check.py REPO_ROOT
"""
import pathlib
import re
import sys

# Each layer and the layers it may include (besides itself). Public headers in include/fedsilo/
# belong to the layer that implements them.
ALLOWED = {
    "core": set(),
    "comm": {"core"},
    "data": {"core"},
    "model": {"core"},
    "ml": {"core", "data", "model"},
    "secagg": {"core", "ml"},
    "silo": {"core", "data", "model", "ml"},
    "monitor": {"core"},
    "protocol": {"core", "comm", "ml", "secagg"},
    "run": {"core", "comm", "ml", "monitor", "protocol"},
    "server": {"core", "comm", "data", "model", "ml", "secagg", "monitor", "protocol", "run"},
    "client": {"core", "comm", "data", "model", "ml", "secagg", "silo", "monitor", "protocol"},
    "cross_silo": {"core", "comm", "data", "model", "ml", "secagg", "silo", "monitor", "protocol",
                   "run", "server", "client"},
    # Programs. The tool and the engine use the public API (any fedsilo/ header), and the lean
    # tool the launcher without libtorch (core, silo's launcher); benchmarks measure internals.
    "apps": {"core", "silo"},
    # The Python package's bindings: the public API, and core's command line and config dump.
    "python": {"core"},
    "bench": {"core", "comm", "data", "model", "ml", "secagg", "silo", "monitor", "protocol", "run",
              "server", "client", "cross_silo"},
}
# Layers that may include every public header, whichever layer implements it.
PUBLIC_API_USERS = {"apps", "bench", "python"}
PUBLIC = {
    "args.h": "core", "error.h": "core", "exit_code.h": "core", "registry.h": "core",
    "dataset.h": "data",
    "model.h": "model",
    "state_dict.h": "ml", "trainer.h": "ml", "aggregator.h": "ml", "aggregation_rule.h": "ml",
    "cross_silo.h": "cross_silo", "simulate.h": "cross_silo", "distributed.h": "cross_silo",
    "fedsilo.h": "cross_silo", "provision.h": "cross_silo",
}
MAX_LINES = 400
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_include(path):
    head, _, rest = path.partition("/")
    if head in ("apps", "bench", "python"):
        return None
    if head == "fedsilo":
        if rest not in PUBLIC:
            raise KeyError(f"public header fedsilo/{rest} has no layer in layering_check.py")
        return PUBLIC[rest]
    return head if head in ALLOWED else None


def main(root):
    root = pathlib.Path(root)
    files = []
    for p in sorted((root / "src").rglob("*")):
        if p.suffix in (".h", ".cpp"):
            files.append((p, p.relative_to(root / "src").parts[0]))
    for p in sorted((root / "include" / "fedsilo").glob("*.h")):
        files.append((p, PUBLIC.get(p.name)))
    for program_dir in ("apps", "bench", "python"):
        for p in sorted((root / program_dir).rglob("*")):
            if p.suffix in (".h", ".cpp"):
                files.append((p, program_dir))
    problems = []
    for path, layer in files:
        rel = path.relative_to(root)
        if layer is None:
            problems.append(f"{rel}: not in any layer (add it to layering_check.py)")
            continue
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            try:
                target = layer_of_include(m.group(1))
            except KeyError as e:
                problems.append(f"{rel}:{n}: {e}")
                continue
            if target is None or target == layer:
                continue
            if layer in PUBLIC_API_USERS and m.group(1).startswith("fedsilo/"):
                continue
            if target not in ALLOWED[layer]:
                problems.append(f"{rel}:{n}: layer {layer} includes {m.group(1)} of layer "
                                f"{target}, which sits above it")
        if len(lines) > MAX_LINES and "long because" not in "\n".join(lines[:12]):
            problems.append(f"{rel}: {len(lines)} lines; split it, or say at its top why it is "
                            f"'long because ...'")
    for p in problems:
        print(p)
    print(f"layering: {len(files)} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
