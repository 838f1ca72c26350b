#!/usr/bin/env python3
"""Lists the public symbols declared in a module's own sources that have no doc comment.

Reads the symbol graphs `swift package generate-documentation` extracts (compiler-synthesised
members such as `init(rawValue:)` or Codable's `init(from:)` have no source location and are
not counted). Exits 1 when any is missing. Usage: undocumented.py BUILD_DIR MODULE...
"""
import glob
import json
import sys

build, modules = sys.argv[1], sys.argv[2:]
missing = 0
for module in modules:
    graphs = glob.glob(f"{build}/extracted-symbols/*/{module}/{module}*.symbols.json")
    if not graphs:
        sys.exit(f"no symbol graph for {module} under {build}/extracted-symbols: run generate-documentation first")
    count = 0
    for path in graphs:
        for symbol in json.load(open(path))["symbols"]:
            if symbol.get("accessLevel") not in ("public", "open") or "location" not in symbol:
                continue
            count += 1
            if not symbol.get("docComment", {}).get("lines"):
                missing += 1
                where = symbol["location"]["uri"].split("/Sources/")[-1]
                line = symbol["location"]["position"]["line"] + 1
                print(f"{module}: {'.'.join(symbol['pathComponents'])} ({symbol['kind']['displayName']}) "
                      f"at Sources/{where}:{line} has no doc comment")
    print(f"{module}: {count} public symbols declared in its sources")
print(f"{missing} without a doc comment")
sys.exit(1 if missing else 0)
