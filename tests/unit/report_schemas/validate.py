#!/usr/bin/env python3
"""Validates a JSON document against one of the schemas beside this script.

usage: validate.py SCHEMA_FILE DOCUMENT_FILE

Every *.json file in this folder is registered under its own id and under its file name
relative to the main schema's id, so the CycloneDX schema finds the SPDX and JSF schemas it
refers to without a network. Exit status: 0 valid, 1 invalid (the errors on stderr), 77 when
the jsonschema module is not installed (the caller skips the check).
"""
import json
import os
import sys
import urllib.parse

try:
    import jsonschema
except ImportError:
    print("python3 jsonschema module not installed", file=sys.stderr)
    sys.exit(77)


def schema_id(schema):
    return schema.get("$id") or schema.get("id") or ""


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        document = json.load(f)

    base = schema_id(schema)
    store = {}
    for name in sorted(os.listdir(here)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(here, name), encoding="utf-8") as f:
            other = json.load(f)
        if schema_id(other):
            store[schema_id(other)] = other
        store[urllib.parse.urljoin(base, name)] = other

    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    try:
        # jsonschema >= 4.18
        import referencing
        import referencing.jsonschema

        registry = referencing.Registry().with_resources(
            (uri, referencing.jsonschema.specification_with(
                s.get("$schema", "http://json-schema.org/draft-07/schema#")).create_resource(s))
            for uri, s in store.items())
        validator = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
    except ImportError:
        resolver = jsonschema.RefResolver(base, schema, store=store)
        validator = cls(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())

    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    for error in errors[:20]:
        where = "/".join(str(p) for p in error.absolute_path)
        print(f"{where}: {error.message[:300]}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} schema violations", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
