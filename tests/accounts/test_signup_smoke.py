def test_signup_creates_tenant_and_logs_in(client):
    page = client.get("/signup")
    assert page.status_code == 200
    from tests.conftest import csrf_from

    token = csrf_from(page.get_data(as_text=True))
    r = client.post("/signup", data={"csrf_token": token, "company": "华光科技", "name": "王经理",
                                     "email": "Wang@Example.com ", "password": "hua-guang-2026",
                                     "language": "zh_CN", "template": "key_account_company"})
    assert r.status_code == 302, r.get_data(as_text=True)
    home = client.get("/home")
    assert home.status_code == 200
    assert "王经理" in home.get_data(as_text=True)
