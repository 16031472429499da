import pytest

from shop.app import create_app


@pytest.fixture()
def client(tmp_path):
    app = create_app(f"sqlite:///{tmp_path / 'test.db'}")
    return app.test_client()


def test_health(client):
    assert client.get("/health").get_json() == {"status": "ok"}


def test_create_and_read_order(client):
    created = client.post("/orders", json={"sku": "apple", "quantity": 3})
    assert created.status_code == 201
    order_id = created.get_json()["id"]
    assert client.get(f"/orders/{order_id}").get_json()["quantity"] == 3
    assert [o["id"] for o in client.get("/orders").get_json()] == [order_id]


def test_rejects_unknown_sku(client):
    assert client.post("/orders", json={"sku": "kiwi", "quantity": 1}).status_code == 400


def test_out_of_stock(client):
    assert client.post("/orders", json={"sku": "plum", "quantity": 1}).status_code == 409


def test_missing_order(client):
    assert client.get("/orders/999").status_code == 404
