"""The shop-api HTTP service."""

import os

from flask import Flask, abort, jsonify, request
from sqlalchemy import insert, select

from shop.db import make_engine, orders

INVENTORY = {"apple": 120, "pear": 40, "plum": 0}


def create_app(database_url=None):
    app = Flask(__name__)
    engine = make_engine(database_url)
    app.config["LOG_LEVEL"] = os.getenv("LOG_LEVEL", "info")

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.get("/orders")
    def list_orders():
        with engine.connect() as con:
            rows = con.execute(select(orders).order_by(orders.c.id)).mappings().all()
        return jsonify([dict(r) for r in rows])

    @app.post("/orders")
    def create_order():
        body = request.get_json(silent=True) or {}
        sku, quantity = body.get("sku"), body.get("quantity")
        if sku not in INVENTORY or not isinstance(quantity, int) or quantity < 1:
            return jsonify(error="sku must be known and quantity a positive integer"), 400
        if INVENTORY[sku] < quantity:
            return jsonify(error=f"only {INVENTORY[sku]} {sku} in stock"), 409
        with engine.begin() as con:
            new_id = con.execute(
                insert(orders).values(sku=sku, quantity=quantity, status="new")
            ).inserted_primary_key[0]
        return jsonify(id=new_id, sku=sku, quantity=quantity, status="new"), 201

    @app.get("/orders/<int:order_id>")
    def get_order(order_id):
        with engine.connect() as con:
            row = con.execute(select(orders).where(orders.c.id == order_id)).mappings().first()
        if row is None:
            abort(404)
        return jsonify(dict(row))

    @app.get("/inventory")
    def inventory():
        return jsonify(INVENTORY)

    return app


app = create_app()

if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
