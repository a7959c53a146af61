"""Validates objects against Stripe's published schemas for tests/it/stripe.rs, run in the tests'
virtual environment (needs::python: openapi-spec-validator brings openapi-schema-validator).

Reads {"schemas_file": <tests/fixtures/stripe/schemas.json>, "objects": [{"schema", "value"}]}
on stdin. The schemas are OpenAPI 3.0 (Stripe's description), so they are checked with
openapi-schema-validator's OAS 3.0 validator (`nullable`, `anyOf` of an id or an expanded
object). Prints "<n> objects valid", or every error (schema name, path, message) and exits 1.
"""

import json
import sys

from openapi_schema_validator import OAS30Validator


def main():
    request = json.load(sys.stdin)
    with open(request["schemas_file"], encoding="utf-8") as f:
        schemas = json.load(f)["schemas"]
    failures = []
    for i, item in enumerate(request["objects"]):
        name = item["schema"]
        if name not in schemas:
            failures.append(f"#{i}: no schema {name!r} in the fixture")
            continue
        root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
        for error in OAS30Validator(root).iter_errors(item["value"]):
            path = "/".join(str(p) for p in error.absolute_path) or "(top)"
            failures.append(f"#{i} {name} at {path}: {error.message[:300]}")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"{len(request['objects'])} objects valid")


if __name__ == "__main__":
    main()
