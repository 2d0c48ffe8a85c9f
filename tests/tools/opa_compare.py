#!/usr/bin/env python3
"""Evaluates driftdeck's policy bundle with real OPA (the opa-golib-python-bindings wheel).

Reads a job (JSON) on stdin: {"policies": {path: source}, "data": {...}, "inputs": [...],
"entry": "driftdeck.drift.decision"}. Writes {"results": [value or {"error": ...}],
"tests": {"passed": [...], "failed": [...], "errors": [...]}} on stdout. Test rules (test_*)
are found with OPA's own parser and pass only when true, as `opa test` does.
"""
import json
import sys

from opa_bindings import OpaEngine, OpaError, OpaUndefinedError


def main():
    job = json.load(sys.stdin)
    engine = OpaEngine()
    for path, src in sorted(job["policies"].items()):
        engine.add_policy(path, src)
    engine.add_data(job["data"])
    results = []
    for doc in job["inputs"]:
        try:
            results.append(engine.eval_document(job["entry"], doc))
        except OpaUndefinedError:
            results.append({"error": "undefined"})
        except OpaError as e:
            results.append({"error": str(e)})
    q = ('m := rego.parse_module(input.file, input.src); '
         'pkg := [p.value | some i, p in m["package"].path; i > 0]; '
         'names := {r.head.ref[0].value | some r in m.rules; '
         'startswith(r.head.ref[0].value, "test_"); count(r.head.ref) == 1}')
    tests = {"passed": [], "failed": [], "errors": []}
    for path, src in sorted(job["policies"].items()):
        for b in engine.eval_query(q, {"file": path, "src": src}):
            for name in sorted(b["names"]):
                ref = ".".join(b["pkg"]) + "." + name
                try:
                    ok = engine.eval_document(ref) is True
                    tests["passed" if ok else "failed"].append(ref)
                except OpaUndefinedError:
                    tests["failed"].append(ref)
                except OpaError as e:
                    tests["errors"].append(ref + ": " + str(e))
    json.dump({"results": results, "tests": tests}, sys.stdout)


if __name__ == "__main__":
    main()
