"""`GET /v1/templates`: tiers, the templates each serves here, and the images built."""

from __future__ import annotations

import httpx

from sandlot.runtimes.registry import all_tiers


def test_templates_list_tiers_templates_and_images(api: httpx.Client, live_url: str) -> None:
    assert httpx.get(f"{live_url}/v1/templates").status_code == 401
    r = api.get("/v1/templates")
    assert r.status_code == 200, r.text
    body = r.json()
    tiers = {t["name"]: t for t in body["tiers"]}
    assert list(tiers) == [t.name for t in all_tiers()]
    assert tiers["wasm"]["available"] and "python" in tiers["wasm"]["capabilities"]
    templates = {t["name"]: t for t in body["templates"]}
    # The default template is served by wasm whatever else this host has.
    assert "wasm" in templates["python-data-analysis"]["tiers"]
    for t in body["templates"]:
        assert all(tiers[name]["available"] for name in t["tiers"]), t
        if t["image"] is not None:
            assert len(t["image"]["digest"]) == 64 and t["image"]["size"] > 0
    for image in body["images"]:
        assert set(image) == {"name", "digest", "size", "created", "source"}
    # What the listing says wasm serves, wasm creates.
    r = api.post("/v1/sandboxes", json={"template": "base", "tier": "wasm"})
    assert ("wasm" in templates.get("base", {}).get("tiers", [])) == (r.status_code == 201)
    if r.status_code == 201:
        api.delete(f"/v1/sandboxes/{r.json()['id']}")
