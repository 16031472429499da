"""`prodsprint init` and `repos add/list/remove`, as a CI pipeline would call them."""

import json

from click.testing import CliRunner

from prodsprint_dagster.cli import main


def cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_init_creates_home_and_instance_config(project):
    result = cli("init", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    dagster_yaml = project.parent / "home" / "dagster" / "dagster.yaml"
    assert data["dagster_yaml"] == str(dagster_yaml)
    assert "default_limit: 1" in dagster_yaml.read_text()
    # Re-running keeps the user's edits.
    dagster_yaml.write_text(dagster_yaml.read_text() + "# edited\n")
    assert cli("init", "--json").exit_code == 0
    assert dagster_yaml.read_text().endswith("# edited\n")


def test_add_list_remove_round_trip_keeps_comments(project, make_repo):
    repo = make_repo("shop")
    project.write_text("# our platform config\nhome: home  # keep me\nrepos: []\n")
    added = cli("repos", "add", "team__shop", str(repo.path), "--branch", "main", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["repo"]["name"] == "team__shop"
    text = project.read_text()
    assert "# our platform config" in text and "# keep me" in text

    listed = json.loads(cli("repos", "list", "--json").stdout)
    assert [r["name"] for r in listed["repos"]] == ["team__shop"]

    # Same name, same URL: a no-op; another URL: refused.
    assert cli("repos", "add", "team__shop", str(repo.path), "--json").exit_code == 0
    clash = cli("repos", "add", "team__shop", "/somewhere/else", "--json")
    assert clash.exit_code == 1
    assert "already registered" in json.loads(clash.stdout)["error"]

    assert cli("repos", "remove", "team__shop", "--json").exit_code == 0
    assert json.loads(cli("repos", "list", "--json").stdout)["repos"] == []

    log = json.loads(cli("audit-log", "--json").stdout)["rows"]
    assert [r["action"] for r in log] == ["repo.register", "repo.unregister"]


def test_bad_names_and_urls_are_refused_and_the_file_is_unchanged(project):
    before = project.read_text()
    for args, reason in [
        (("team/shop", "/x"), "path separator"),
        (("..", "/x"), "'..'"),
        (("-x", "/x"), "starts with '-'"),
        (("has space", "/x"), "spaces"),
        (("ok", "ext::sh -c touch% pwned"), "transport helper"),
        (("ok", "-uhttps://x/y"), "starts with '-'"),
    ]:
        result = cli("repos", "add", "--json", "--", *args)
        assert result.exit_code != 0, args
        assert reason in result.output, (args, result.output)
    assert project.read_text() == before


def test_malformed_config_is_reported_with_its_key(project):
    project.write_text("repos:\n  - name: shop\n    url: /x\n    brnch: main\n")
    result = cli("repos", "list", "--json")
    assert result.exit_code == 1
    assert "repos[0].brnch: unknown key" in json.loads(result.stdout)["error"]


def test_json_mode_prints_exactly_one_document(project, make_repo):
    repo = make_repo("shop")
    result = CliRunner().invoke(main, ["repos", "add", "shop", str(repo.path), "--json"])
    json.loads(result.stdout)  # the whole of stdout is one JSON document
