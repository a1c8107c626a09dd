"""The bulk API: list export, imports (202, status, report, undo)."""
from __future__ import annotations

import io
import json

from openpyxl import load_workbook

from tests.api.conftest import REQUIRED, new_client


def test_export_api_filters_and_formats(api_for, team_a):
    api = api_for(team_a.owner)
    new_client(api, "上海华光科技有限公司")
    new_client(api, "杭州明达贸易有限公司", fields={**REQUIRED, "business_phone": "0571-88776655"})
    r = api.get("/clients/export?format=xlsx&q=华光")
    assert r.status_code == 200
    names = [row[1] for row in load_workbook(io.BytesIO(r.data)).active.iter_rows(min_row=2, values_only=True)]
    assert names == ["上海华光科技有限公司"]
    r = api.get("/clients/export?format=csv")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf") and "杭州明达" in r.data.decode("utf-8-sig")
    assert api.get("/clients/export?format=pdf").status_code == 422


def test_import_api_202_status_and_undo(app, api_for, team_a):
    api = api_for(team_a.member)
    csv = "公司,行业,电话\n上海华光科技有限公司,服装,021-55881234\n,服装,010-1\n".encode("gb18030")
    r = api.client.post("/api/v1/imports", headers=api.headers(),
                        data={"file": (io.BytesIO(csv), "list.csv"), "mapping": json.dumps({"行业": "industry",
                                                                                          "电话": "business_phone"}),
                              "on_duplicate": "skip", "dry_run": "false"}, content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "status"}
    status = api.get(f"/imports/{body['id']}").get_json()
    assert status["status"] == "done" and (status["created"], status["updated"], status["skipped"]) == (1, 0, 0)
    assert status["errors"] == [{"row": 3, "field": "公司", "message": status["errors"][0]["message"]}]
    assert api.get("/clients").get_json()["total"] == 1
    r = api.post(f"/imports/{body['id']}/undo")
    assert r.status_code == 200 and r.get_json()["removed"] == 1 and r.get_json()["undone"]
    assert api.get("/clients").get_json()["total"] == 0
    assert api.post(f"/imports/{body['id']}/undo").status_code == 409
    # Another member does not see the import.
    assert api_for(team_a.member2).get(f"/imports/{body['id']}").status_code == 404


def test_import_api_bad_file_and_size(app, api_for, team_a):
    api = api_for(team_a.member)
    r = api.client.post("/api/v1/imports", headers=api.headers(),
                        data={"file": (io.BytesIO(b"PK\x03\x04garbage"), "list.xlsx")},
                        content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["errors"]
    app.config["IMPORT_MAX_BYTES"] = 100
    try:
        r = api.client.post("/api/v1/imports", headers=api.headers(),
                            data={"file": (io.BytesIO(b"a," * 20000), "list.csv")}, content_type="multipart/form-data")
    finally:
        app.config["IMPORT_MAX_BYTES"] = 20 * 1024 * 1024
    assert r.status_code == 413


def test_a_nameless_form_part_is_an_unknown_property_not_a_crash(api_for, team_a):
    api = api_for(team_a.member)
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nnull\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"%0D\"\r\n\r\nnull\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\n\r\n<!DOCTYPE\r\n"
            f"--{boundary}--\r\n").encode()
    r = api.client.post("/api/v1/imports", headers=api.headers(), data=body,
                        content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert all(isinstance(k, str) for k in r.get_json()["errors"])
