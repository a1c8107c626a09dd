"""The OpenAPI document: public, 3.1, and it lists every route of the API with its schemas."""
from __future__ import annotations

import re


def test_openapi_document_lists_every_route(app, client):
    r = client.get("/api/v1/openapi.json")  # no token needed to read the document
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1")
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearer": []}]
    assert {"Problem", "ValidationProblem", "Client", "ClientList", "Template"} <= set(doc["components"]["schemas"])
    assert doc["servers"] == [{"url": "/api/v1"}]

    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len("/api/v1"):])
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((method.lower(), path))
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    assert routes == documented

    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            assert op["summary"] and op["operationId"]
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert ok, (method, path)
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert "application/problem+json" in response["content"], (method, path, code)
                elif code != "204":
                    # JSON, except documents (a card PDF, a workbook) documented with their own media type
                    files = all(c["schema"].get("format") == "binary" for c in response["content"].values())
                    assert {"application/json", "application/pdf"} & set(response["content"]) or files, \
                        (method, path, code)
            if path != "/openapi.json":
                assert {"401", "429"} <= set(op["responses"])
            if method in ("post", "patch") and "requestBody" in op:
                assert {"400", "415", "422"} <= set(op["responses"])


def test_value_schemas_come_from_the_field_type_registry(client):
    from app.api.openapi import value_schema_name
    from app.values import FIELD_TYPES

    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name, ft in FIELD_TYPES.items():
        assert schemas[value_schema_name(name)] == {**ft.schema, "examples": [ft.example]}
    assert schemas["FieldValue"]["anyOf"] == [{"$ref": f"#/components/schemas/{value_schema_name(n)}"}
                                              for n in FIELD_TYPES]
    assert schemas["Field"]["properties"]["type"]["enum"] == list(FIELD_TYPES)
    assert schemas["FieldCreate"]["properties"]["type"]["enum"] == list(FIELD_TYPES)
    # Responses carry stored values; requests also take the Chinese input forms, so they are not narrowed.
    assert schemas["Client"]["properties"]["fields"]["additionalProperties"] == {
        "$ref": "#/components/schemas/FieldValue"}
    assert schemas["ClientPatch"]["properties"]["fields"]["additionalProperties"] == {
        "$ref": "#/components/schemas/FieldInput"}
