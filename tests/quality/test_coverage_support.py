"""Helpers shared by the coverage tests (no tests here).

Test virtualenvs are cached by requirements hash like in production; the cache lives outside
each test's tmp_path (``$PRODSPRINT_TEST_RUNTIMES``, else a per-user folder in the temp dir)
so the session, and the next session, build each one once.
"""

import os
import tempfile
from pathlib import Path

RUNTIME_HOME = Path(
    os.environ.get("PRODSPRINT_TEST_RUNTIMES")
    or Path(tempfile.gettempdir()) / f"prodsprint-test-runtimes-{os.getuid()}"
)
# The example service pins these for its tests; tiny test repositories reuse the pins.
TEST_TOOLS = "pytest==8.2.2\ncoverage==7.5.4\n"
PYTEST_SUITE = [{"framework": "pytest", "root": ".", "command": "pytest",
                 "evidence": ["pytest.ini:1"]}]  # fmt: skip


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def share_runtimes(home: Path) -> None:
    """Point ``<home>/runtimes`` at the shared cache so a project home reuses built venvs."""
    RUNTIME_HOME.joinpath("runtimes").mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    link = home / "runtimes"
    if not link.exists():
        link.symlink_to(RUNTIME_HOME / "runtimes", target_is_directory=True)
