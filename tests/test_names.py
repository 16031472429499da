import pytest

from prodsprint_dagster.errors import InvalidNameError
from prodsprint_dagster.names import (
    redact_url,
    slugify,
    validate_artifact_name,
    validate_branch,
    validate_git_url,
    validate_repo_name,
    validate_sha,
)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("team/service", "path separator"),
        ("..", "'..'"),
        ("a..b", "'..'"),
        ("my service", "spaces"),
        ("svc\x00x", "control characters"),
        ("svc\nx", "control characters"),
        ("-rf", "starts with '-'"),
        ("Service", "upper-case"),
        ("", "empty"),
        ("a" * 101, "1-100 characters"),
    ],
)
def test_bad_repo_names_are_refused_with_the_reason(name, reason):
    with pytest.raises(InvalidNameError, match=reason):
        validate_repo_name(name)


@pytest.mark.parametrize("name", ["shop-api", "team__service", "svc.v2", "a1"])
def test_good_repo_names_pass(name):
    assert validate_repo_name(name) == name


def test_slugify_makes_team_service_keys():
    assert slugify("Payments/Ledger API") == "payments__ledger-api"


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "ext::sh -c 'touch /tmp/pwned'",
        "fd::17",
        "-uhttps://example.com/x.git",
        "--upload-pack=touch /tmp/pwned",
        "https://example.com/x\n.git",
        "gopher://example.com/x",
    ],
)
def test_dangerous_urls_are_refused(url):
    with pytest.raises(InvalidNameError):
        validate_git_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/shop.git",
        "ssh://git@github.com/acme/shop.git",
        "git@github.com:acme/shop.git",
        "file:///srv/git/shop.git",
    ],
)
def test_ordinary_urls_pass(url):
    assert validate_git_url(url) == url


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    assert validate_git_url("repos/shop", base_dir=tmp_path) == str(tmp_path / "repos" / "shop")


@pytest.mark.parametrize("branch", ["-x", "a..b", "a b", "a~1", "x.lock", "refs//x", "@", "a:b"])
def test_bad_branches_are_refused(branch):
    with pytest.raises(InvalidNameError):
        validate_branch(branch)


def test_sha_must_be_full_hex():
    validate_sha("a" * 40)
    for bad in ["abc", "HEAD", "A" * 40, "-" + "a" * 39, "a" * 41]:
        with pytest.raises(InvalidNameError):
            validate_sha(bad)


@pytest.mark.parametrize("name", ["../x", "a/../../b", "/etc/passwd", "a//b", ""])
def test_artifact_names_cannot_escape(name):
    with pytest.raises(InvalidNameError):
        validate_artifact_name(name)


def test_credentials_are_redacted_from_urls():
    assert (
        redact_url("https://bot:ghp_secret@github.com/a/b.git") == "https://***@github.com/a/b.git"
    )
    assert redact_url("/srv/repo") == "/srv/repo"
