#!/usr/bin/python3
"""Validate nnpctl's JSON output against docs/schema/.

    validate_json.py FILE|-           one JSON document, or JSON lines (guard watch --json)
    validate_json.py --check-schemas  every schema is itself valid and names its document

Each document names its schema ("schema": "nnp.<name>/<version>"); it is validated against
docs/schema/<name>.schema.json, whose "schema" property is that exact constant. Exit 0
when every document is valid, 1 otherwise (each error printed), 2 on a usage error.
"""
import json
import os
import sys

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "docs", "schema")


def load(name):
    with open(os.path.join(SCHEMAS, name + ".schema.json"), encoding="utf-8") as f:
        return json.load(f)


def validator(schema):
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check_schemas():
    bad = 0
    names = sorted(f[: -len(".schema.json")] for f in os.listdir(SCHEMAS) if f.endswith(".schema.json"))
    for name in names:
        s = load(name)
        try:
            jsonschema.validators.validator_for(s).check_schema(s)
        except jsonschema.exceptions.SchemaError as e:
            print(f"{name}: not a valid JSON Schema: {e.message}")
            bad += 1
            continue
        const = s.get("properties", {}).get("schema", {}).get("const", "")
        if not const.startswith(f"nnp.{name}/") or "schema" not in s.get("required", []):
            print(f"{name}: its documents must require \"schema\": \"nnp.{name}/<version>\" (has {const!r})")
            bad += 1
    print(f"{len(names)} schemas: {', '.join(names)}")
    return 1 if bad else 0


def documents(text):
    text = text.strip()
    if not text:
        return []
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "--check-schemas":
        return check_schemas()
    text = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8").read()
    try:
        docs = documents(text)
    except json.JSONDecodeError as e:
        print(f"not JSON: {e}")
        return 1
    if not docs:
        print("no JSON document")
        return 1
    bad = 0
    for i, d in enumerate(docs, 1):
        tag = d.get("schema") if isinstance(d, dict) else None
        if not isinstance(tag, str) or not tag.startswith("nnp.") or "/" not in tag:
            print(f"document {i}: names no schema (\"schema\": \"nnp.<command>/<version>\")")
            bad += 1
            continue
        name = tag[len("nnp."):].split("/", 1)[0]
        try:
            schema = load(name)
        except OSError:
            print(f"document {i}: no schema docs/schema/{name}.schema.json for {tag}")
            bad += 1
            continue
        for e in sorted(validator(schema).iter_errors(d), key=lambda e: list(e.absolute_path)):
            path = "/".join(str(p) for p in e.absolute_path) or "(document)"
            print(f"document {i} ({tag}): {path}: {e.message}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
