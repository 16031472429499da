"""Route discovery: a served OpenAPI document, else the code's route table, else a list."""

from pathlib import Path

from perf_helpers import app_server

from prodsprint_dagster.quality.perf import code_routes, discover_routes

FLASK = """from flask import Flask, Blueprint
app = Flask(__name__)
api = Blueprint("api", __name__, url_prefix="/api")

@app.get("/health")
def health(): ...

@app.route("/orders", methods=["GET", "POST"])
def orders(): ...

@app.route("/orders/<int:order_id>")
def order(order_id): ...

@api.get("/stock")
def stock(): ...
"""
FASTAPI = """from fastapi import FastAPI, APIRouter
app = FastAPI()
router = APIRouter(prefix="/v1")

@app.get("/")
async def root(): ...

@router.get("/users/{user_id}")
async def user(user_id: int): ...

@router.delete("/users")
async def purge(): ...
"""
EXPRESS = """const express = require('express');
const app = express();
app.get('/ping', (req, res) => res.send('pong'));
app.get(`/things/:id`, (req, res) => res.send('x'));
app.post('/things', (req, res) => res.send('x'));
"""
DJANGO = """from django.urls import path
urlpatterns = [
    path("reports/", views.reports),
    path("reports/<int:pk>/", views.report),
]
"""
AXIOS = "import axios from 'axios';\naxios.get('/api/not-a-route');\n"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    for rel, text in {
        "app.py": FLASK, "api/main.py": FASTAPI, "web/server.js": EXPRESS,
        "site/urls.py": DJANGO, "web/client.js": AXIOS,
        "tests/test_app.py": '@app.get("/from-a-test")\ndef t(): ...\n',
        "node_modules/lib/index.js": "app.get('/vendored', f)\n",
    }.items():  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_code_routes_of_each_framework_with_evidence(tmp_path):
    found = {(r.method, r.path): r for r in code_routes(_tree(tmp_path))}
    assert found[("GET", "/health")].evidence == "app.py:5"
    assert found[("GET", "/api/stock")].framework == "flask"
    assert {("GET", "/orders"), ("POST", "/orders"), ("GET", "/orders/<int:order_id>")} <= set(
        found
    )
    assert found[("GET", "/v1/users/{user_id}")].framework == "fastapi"
    assert found[("GET", "/ping")].evidence == "web/server.js:3"
    assert found[("GET", "/ping")].framework == "express"
    assert ("GET", "/things/:id") in found and ("POST", "/things") in found
    assert found[("GET", "/reports/")].framework == "django"
    paths = {p for _, p in found}
    assert not {"/from-a-test", "/vendored", "/api/not-a-route"} & paths


def test_only_plain_get_routes_are_driven_and_the_rest_says_why(tmp_path):
    discovery = discover_routes(root=_tree(tmp_path))
    assert discovery.source == "code"
    assert set(discovery.driven) == {"/", "/health", "/orders", "/api/stock", "/ping",
                                     "/reports/"}  # fmt: skip
    reasons = {(r.method, r.path): r.reason for r in discovery.routes if not r.driven}
    assert "path parameters" in reasons[("GET", "/orders/<int:order_id>")]
    assert "path parameters" in reasons[("GET", "/things/:id")]
    assert "path parameters" in reasons[("GET", "/reports/<int:pk>/")]
    assert "only GET" in reasons[("POST", "/orders")]
    assert "only GET" in reasons[("DELETE", "/v1/users")]


def test_a_served_openapi_document_wins_over_the_code(tmp_path):
    with app_server(OPENAPI="1") as url:
        discovery = discover_routes(base_url=url, root=_tree(tmp_path))
    assert discovery.source == "openapi"
    assert discovery.driven == ["/fast", "/health"]
    assert [r.path for r in discovery.routes if not r.driven] == ["/orders"]
    assert discovery.routes[0].evidence == f"{url}/openapi.json"


def test_configured_list_then_health_path_as_fallbacks(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with app_server() as url:  # serves no OpenAPI document
        configured = discover_routes(base_url=url, root=empty, configured=["/fast"])
        assert (configured.source, configured.driven) == ("config", ["/fast"])
        last = discover_routes(base_url=url, root=empty, health_path="/health")
        assert (last.source, last.driven) == ("health", ["/health"])


def test_links_out_of_the_tree_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text('@app.get("/outside")\ndef x(): ...\n')
    root = tmp_path / "svc"
    root.mkdir()
    (root / "linked.py").symlink_to(outside / "secret.py")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    assert code_routes(root) == []
