"""Directory names that never hold a repository's own code or lockfiles.

Shared by the auditor (languages, services, env vars) and the SBOM's lockfile search, and kept
import-free so the light CLI paths (`prodsprint sbom`) do not load the auditor.
"""

# Directory names that are never the service's own code (linguist vendor.yml, plus tool caches).
VENDORED_DIRS = frozenset(
    {
        "node_modules",
        "bower_components",
        "jspm_packages",
        "vendor",
        "vendors",
        "third_party",
        "third-party",
        "thirdparty",
        "Pods",
        "Carthage",
        ".venv",
        "venv",
        "virtualenv",
        ".virtualenv",
        "env.bak",
        "site-packages",
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".cache",
        ".gradle",
        ".idea",
        ".vscode",
        ".terraform",
        ".next",
        ".nuxt",
        ".svelte-kit",
        ".turbo",
        ".parcel-cache",
        ".yarn",
        ".pnpm-store",
        "dist",
        "build",
        "out",
        "target",
        "coverage",
        "htmlcov",
        ".eggs",
    }
)
