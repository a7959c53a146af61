#!/usr/bin/env python3
"""The Stripe schemas the tests' fake Stripe is checked against, cut from Stripe's published
OpenAPI description (github.com/stripe/openapi, MIT licence).

    python3 tools/stripe_schemas.py <openapi/spec3.yaml or .json> <upstream commit> \
        > node/tests/fixtures/stripe/schemas.json

Keeps the schemas of the objects svea meets (`checkout.session`, `event`, `charge`, `error`)
and every schema they reference, transitively (`x-expansionResources` aside: those only say
what an expanded id would become), unchanged: OpenAPI 3.0 schemas, `nullable` included, which
`node/tests/it/stripe_check.py` validates with openapi-schema-validator's OAS 3.0 validator.
The output is one JSON object: `{"upstream": ..., "schemas": {name: schema}}`, keys sorted, so
a rerun on the same input is byte-identical.
"""
import json
import sys

ROOTS = ["checkout.session", "event", "charge", "error"]


def refs(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                out.add(value.rsplit("/", 1)[-1])
            elif key != "x-expansionResources":
                refs(value, out)
    elif isinstance(node, list):
        for value in node:
            refs(value, out)


def main():
    path, commit = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        if path.endswith(".json"):
            spec = json.load(f)
        else:
            import yaml  # PyYAML: only for the YAML form of the description
            spec = yaml.safe_load(f)
    schemas = spec["components"]["schemas"]
    kept, todo = {}, list(ROOTS)
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept[name] = schemas[name]
        found = set()
        refs(schemas[name], found)
        todo.extend(sorted(found - kept.keys()))
    out = {
        "upstream": {
            "repository": "https://github.com/stripe/openapi",
            "commit": commit,
            "file": "openapi/" + path.rsplit("/", 1)[-1],
            "openapi_info_version": spec.get("info", {}).get("version"),
            "licence": "MIT, see LICENSE beside this file",
        },
        "roots": ROOTS,
        "schemas": kept,
    }
    json.dump(out, sys.stdout, sort_keys=True, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
