"""/openapi.json describes every contract path with real schemas (it is the input of later fuzzing)."""

from __future__ import annotations

CONTRACT = {
    ("get", "/health"),
    ("get", "/health/feature-flags"),
    ("get", "/admin/feature-flags"),
    ("patch", "/admin/feature-flags"),
    ("put", "/admin/feature-flags/{name}"),
    ("get", "/admin/routing"),
    ("put", "/admin/routing"),
    ("get", "/admin/releases"),
    ("post", "/admin/releases/rollback"),
    ("get", "/admin/deployments/{deployment_id}"),
    ("get", "/admin/locks/rollback"),
    ("post", "/admin/locks/rollback"),
    ("delete", "/admin/locks/rollback"),
    ("get", "/admin/rollback/snapshot"),
    ("put", "/admin/rollback/snapshot"),
    ("delete", "/admin/rollback/snapshot"),
    ("get", "/_sandbox/changes"),
    ("get", "/_sandbox/faults"),
    ("put", "/_sandbox/faults"),
    ("post", "/_sandbox/reset"),
    ("post", "/v1/model-calls"),
}


def test_openapi_lists_the_contract(client):
    spec = client.get("/openapi.json").json()
    operations = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert operations >= CONTRACT
    for method, path in CONTRACT:
        op = spec["paths"][path][method]
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, (method, path)
        assert "$ref" in str(op["responses"][success[0]]["content"]), (method, path)
        if path.startswith("/admin"):
            assert op["security"] == [{"HTTPBearer": []}]
            assert "401" in op["responses"]
    rollback = spec["paths"]["/admin/releases/rollback"]["post"]
    assert {"200", "202", "404", "409"} <= set(rollback["responses"])
    headers = {p["name"] for p in rollback["parameters"] if p["in"] == "header"}
    assert headers == {"Idempotency-Key", "X-Rollback-Id"}
    schemas = spec["components"]["schemas"]
    assert schemas["RoutingPut"]["properties"]["mode"]["enum"] == ["hybrid", "mcp_only", "direct_only"]
    assert "HTTPValidationError" not in schemas  # 422s use the contract's error shape


def test_validation_errors_use_the_error_shape(client):
    body = client.put("/admin/routing", json={"mode": "sideways"}).json()
    assert body["error"] == "validation_error"
    assert isinstance(body["detail"], str)
    assert body["errors"][0]["loc"] == ["body", "mode"]
