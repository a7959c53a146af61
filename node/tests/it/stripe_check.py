"""Validates objects against Stripe's published schemas for tests/it/stripe.rs, run in the tests'
virtual environment (needs::python: openapi-spec-validator brings openapi-schema-validator).

Reads {"schemas_file": <tests/fixtures/stripe/schemas.json>, "objects": [{"schema", "value"}]}
on stdin. The schemas are OpenAPI 3.0 (Stripe's description). Their keywords are JSON Schema
draft 4's but one: `nullable: true`, which Stripe puts beside `enum` and `anyOf` too (a nullable
enum, an id or an expanded object, or null), where OpenAPI 3.0.3's own reading would refuse the
null Stripe sends. So each nullable schema is read as "this schema, or null" (`anyOf` with
`{"type": "null"}`, the OpenAPI 3.1 way) and everything is validated with jsonschema's draft 4
validator. Prints "<n> objects valid", or every error (schema name, path, message) and exits 1.
"""

import json
import sys

from jsonschema import Draft4Validator


def nullable_as_json_schema(node):
    if isinstance(node, list):
        return [nullable_as_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_as_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def main():
    request = json.load(sys.stdin)
    with open(request["schemas_file"], encoding="utf-8") as f:
        schemas = nullable_as_json_schema(json.load(f)["schemas"])
    failures = []
    for i, item in enumerate(request["objects"]):
        name = item["schema"]
        if name not in schemas:
            failures.append(f"#{i}: no schema {name!r} in the fixture")
            continue
        root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
        for error in Draft4Validator(root).iter_errors(item["value"]):
            path = "/".join(str(p) for p in error.absolute_path) or "(top)"
            failures.append(f"#{i} {name} at {path}: {error.message[:300]}")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"{len(request['objects'])} objects valid")


if __name__ == "__main__":
    main()
