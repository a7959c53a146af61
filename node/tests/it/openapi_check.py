"""Checks of svea's OpenAPI documents for tests/it/openapi.rs, run in the tests' virtual environment
(needs::python, with the pinned openapi-spec-validator and jsonschema).

Reads one JSON object on stdin, {"mode": ..., "doc": <document>, ...}, prints what it checked and
exits 1 with every failure listed when something is wrong:

- "spec": the document is valid OpenAPI 3.1 (openapi-spec-validator).
- "examples": every example in the document (schemas', parameters', media types') validates against
  its schema (JSON Schema 2020-12, the dialect of OpenAPI 3.1); and every JSON or form body, request
  or response, has an example (on the media type or on its schema).
- "live": {"answers": [{"method", "path", "status", "content_type", "headers", "body"}]}: each live
  answer's body validates against the schema documented for that operation, status and content
  type, has no property the schema does not declare, and carries every header documented for it.
"""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

failures = []
checked = 0


def fail(where, what):
    failures.append(f"{where}: {what}")


def resolve(doc, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def validator(doc, schema):
    # The schema inside the document, so that its $refs (#/components/...) resolve.
    root = dict(schema)
    root["components"] = doc.get("components", {})
    return Draft202012Validator(root)


def check(doc, where, schema, instance):
    global checked
    checked += 1
    errors = sorted(validator(doc, schema).iter_errors(instance), key=lambda e: list(e.path))
    for e in errors:
        fail(where, f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}")


def examples_of(obj):
    out = []
    if "example" in obj:
        out.append(("example", obj["example"]))
    ex = obj.get("examples")
    if isinstance(ex, list):
        out += [(f"examples[{i}]", v) for i, v in enumerate(ex)]
    elif isinstance(ex, dict):
        out += [(f"examples.{k}", v.get("value")) for k, v in ex.items() if "value" in v]
    return out


def walk_schema(doc, where, schema):
    """Every example inside a schema (its own, its properties', its items'...) against its schema."""
    if not isinstance(schema, dict):
        return
    for name, value in examples_of(schema):
        check(doc, f"{where} {name}", schema, value)
    for key in ("properties", "patternProperties", "$defs"):
        for k, sub in schema.get(key, {}).items():
            walk_schema(doc, f"{where}.{k}", sub)
    for key in ("items", "additionalProperties", "not", "contains"):
        if isinstance(schema.get(key), dict):
            walk_schema(doc, f"{where}.{key}", schema[key])
    for key in ("allOf", "oneOf", "anyOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            walk_schema(doc, f"{where}.{key}[{i}]", sub)


def has_example(doc, media):
    if examples_of(media):
        return True
    schema = resolve(doc, media.get("schema", {}))
    return bool(examples_of(schema))


BODY_TYPES = ("application/json", "application/problem+json", "application/x-www-form-urlencoded")


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                yield path, method, op


def mode_examples(doc):
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        walk_schema(doc, f"components.schemas.{name}", schema)
    for path, method, op in operations(doc):
        at = f"{method.upper()} {path}"
        for p in op.get("parameters", []):
            for name, value in examples_of(p):
                check(doc, f"{at} parameter {p['name']} {name}", p["schema"], value)
            walk_schema(doc, f"{at} parameter {p['name']}", p.get("schema"))
        bodies = []
        if "requestBody" in op:
            bodies += [("request body", ct, m) for ct, m in op["requestBody"].get("content", {}).items()]
        for status, resp in op.get("responses", {}).items():
            bodies += [(f"response {status}", ct, m) for ct, m in resp.get("content", {}).items()]
            for h, header in resp.get("headers", {}).items():
                for name, value in examples_of(header):
                    check(doc, f"{at} response {status} header {h} {name}", header["schema"], value)
        for what, ct, media in bodies:
            for name, value in examples_of(media):
                check(doc, f"{at} {what} {ct} {name}", media.get("schema", {}), value)
            if ct in BODY_TYPES and not has_example(doc, media):
                fail(f"{at} {what} {ct}", "no example")


def undeclared(doc, where, schema, instance):
    """Properties of `instance` its schema does not declare (the document would be out of date)."""
    schema = resolve(doc, schema)
    if not isinstance(schema, dict):
        return
    for key in ("oneOf", "anyOf"):
        if key in schema:
            # The alternative the instance is (a nullable reference: null or the referenced schema).
            options = [resolve(doc, s) for s in schema[key]]
            matching = [s for s in options if not list(validator(doc, s).iter_errors(instance))]
            if matching:
                undeclared(doc, where, matching[0], instance)
            return
    if isinstance(instance, dict):
        props = {}
        parts = [schema] + [resolve(doc, s) for s in schema.get("allOf", [])]
        for part in parts:
            props.update(part.get("properties", {}))
        part_additional = None
        for part in parts:
            if isinstance(part.get("additionalProperties"), dict):
                part_additional = part["additionalProperties"]
        for k, v in instance.items():
            if k in props:
                undeclared(doc, f"{where}.{k}", props[k], v)
            elif part_additional is not None:
                undeclared(doc, f"{where}.{k}", part_additional, v)
            else:
                fail(where, f"property {k!r} is not in the documented schema")
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(instance):
            undeclared(doc, f"{where}[{i}]", schema["items"], v)


def mode_live(doc, answers):
    for a in answers:
        at = f"live {a['method']} {a['path']} {a['status']}"
        op = doc["paths"].get(a["path"], {}).get(a["method"].lower())
        if op is None:
            fail(at, "no such operation in the document")
            continue
        resp = op["responses"].get(str(a["status"]))
        if resp is None:
            fail(at, f"status not documented (documented: {sorted(op['responses'])})")
            continue
        ct = a["content_type"].split(";")[0].strip()
        media = {k.split(";")[0].strip(): v for k, v in resp.get("content", {}).items()}.get(ct)
        if media is None:
            fail(at, f"content type {ct} not documented")
            continue
        check(doc, at, media["schema"], a["body"])
        undeclared(doc, at, media["schema"], a["body"])
        got = {k.lower() for k in a["headers"]}
        for h in resp.get("headers", {}):
            if h.lower() not in got and h.lower() != "set-cookie":
                fail(at, f"documented header {h} is missing")


def main():
    req = json.load(sys.stdin)
    doc = req["doc"]
    mode = req["mode"]
    if mode == "spec":
        validate_spec(doc)
    elif mode == "examples":
        mode_examples(doc)
    elif mode == "live":
        mode_live(doc, req["answers"])
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"mode": mode, "checked": checked, "failures": failures}))
    sys.exit(1 if failures else 0)


main()
