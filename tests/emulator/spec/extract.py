"""Cut the parts of Webex's OpenAPI spec that tests/emulator/test_spec_schemas.py checks.

Run: `.venv/bin/python -m tests.emulator.spec.extract PATH/TO/webex-messaging.json COMMIT`
(the spec from github.com/webex/webex-openapi-specs, `public-spec/webex-messaging.json`). It
writes `webex-messaging-subset.json` beside this file: for each operation the emulator
implements, the success response's schema with every `$ref` inlined, and the query parameters'
schemas; descriptions and examples are dropped. See NOTICE.md for the licence (CC BY 4.0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "webex-messaging-subset.json"
OPERATIONS = [
    ("get", "/people"),
    ("get", "/people/me"),
    ("get", "/people/{personId}"),
    ("get", "/rooms"),
    ("post", "/rooms"),
    ("get", "/rooms/{roomId}"),
    ("put", "/rooms/{roomId}"),
    ("delete", "/rooms/{roomId}"),
    ("get", "/memberships"),
    ("post", "/memberships"),
    ("get", "/memberships/{membershipId}"),
    ("put", "/memberships/{membershipId}"),
    ("delete", "/memberships/{membershipId}"),
    ("get", "/messages"),
    ("post", "/messages"),
    ("get", "/messages/direct"),
    ("get", "/messages/{messageId}"),
    ("put", "/messages/{messageId}"),
    ("delete", "/messages/{messageId}"),
    ("get", "/webhooks"),
    ("post", "/webhooks"),
    ("get", "/webhooks/{webhookId}"),
    ("put", "/webhooks/{webhookId}"),
    ("delete", "/webhooks/{webhookId}"),
    ("get", "/teams"),
    ("post", "/teams"),
    ("get", "/teams/{teamId}"),
    ("put", "/teams/{teamId}"),
    ("delete", "/teams/{teamId}"),
    ("get", "/team/memberships"),
    ("post", "/team/memberships"),
    ("get", "/team/memberships/{membershipId}"),
    ("put", "/team/memberships/{membershipId}"),
    ("delete", "/team/memberships/{membershipId}"),
    ("post", "/attachment/actions"),
    ("get", "/attachment/actions/{id}"),
]
DROP = {"description", "example", "examples"}


def inline(node: Any, spec: dict[str, Any], depth: int = 0) -> Any:
    """Return `node` with every local `$ref` replaced by its target, without prose."""
    if depth > 40:
        raise ValueError("$ref nesting too deep")
    if isinstance(node, list):
        return [inline(item, spec, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return inline(target, spec, depth + 1)
    out = {}
    for key, value in node.items():
        if key in DROP and not isinstance(value, dict | list):
            continue
        if key == "properties":
            out[key] = {name: inline(prop, spec, depth + 1) for name, prop in value.items()}
        else:
            out[key] = inline(value, spec, depth + 1)
    return out


def extract(spec: dict[str, Any], commit: str) -> dict[str, Any]:
    """Return the subset document."""
    operations: dict[str, Any] = {}
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method]
        responses = operation["responses"]
        status = next(code for code in ("200", "202", "204") if code in responses)
        content = responses[status].get("content", {}).get("application/json", {})
        operations[f"{method.upper()} {path}"] = {
            "status": int(status),
            "schema": inline(content["schema"], spec) if "schema" in content else None,
            "query": {
                p["name"]: inline(p.get("schema", {}), spec)
                for p in operation.get("parameters", [])
                if p.get("in") == "query"
            },
        }
    return {
        "source": "https://github.com/webex/webex-openapi-specs",
        "file": "public-spec/webex-messaging.json",
        "commit": commit,
        "license": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
        "changes": "subset of operations; $refs inlined; descriptions and examples removed",
        "operations": operations,
    }


def main() -> None:
    """Write the subset from the spec file given on the command line."""
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    subset = extract(spec, sys.argv[2])
    OUT.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
