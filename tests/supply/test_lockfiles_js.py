# ruff: noqa: E501 - fixtures reproduce lockfile lines as the tools write them
"""JavaScript lockfiles: package-lock v1/v3 (workspaces), yarn classic and berry, pnpm v5/v6/v9,
bun.lock, on fixtures modelled on what npm, yarn, pnpm and bun write."""

from __future__ import annotations

import base64
import hashlib
import json

from lock_helpers import named, parse_one, write_tree


def sri(name: str, alg: str = "sha512") -> str:
    return f"{alg}-" + base64.b64encode(hashlib.new(alg, name.encode()).digest()).decode()


def hexdigest(name: str, alg: str = "sha512") -> str:
    return hashlib.new(alg, name.encode()).hexdigest()


# ---------------------------------------------------------------- package-lock.json


def test_package_lock_v1_nested_dependencies_aliases_and_flags(tmp_path):
    lock = {
        "name": "legacy-app",
        "version": "1.0.0",
        "lockfileVersion": 1,
        "requires": True,
        "dependencies": {
            "debug": {
                "version": "2.6.9",
                "resolved": "https://registry.npmjs.org/debug/-/debug-2.6.9.tgz",
                "integrity": sri("debug"),
                "requires": {"ms": "2.0.0"},
            },
            "express": {
                "version": "4.17.1",
                "resolved": "https://registry.npmjs.org/express/-/express-4.17.1.tgz",
                "integrity": sri("express", "sha1"),
                "requires": {"debug": "2.6.9", "ms": "2.1.3"},
                "dependencies": {
                    "ms": {
                        "version": "2.1.3",
                        "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.3.tgz",
                        "integrity": sri("ms213"),
                    }
                },
            },
            "fsevents": {"version": "2.3.2", "optional": True},
            "mocha": {
                "version": "9.2.2",
                "dev": True,
                "requires": {"ms": "2.1.3"},
                "dependencies": {"ms": {"version": "2.1.3", "dev": True}},
            },
            "ms": {"version": "2.0.0", "integrity": sri("ms200")},
            "string-width-cjs": {
                "version": "npm:string-width@4.2.3",
                "resolved": "https://registry.npmjs.org/string-width/-/string-width-4.2.3.tgz",
            },
            "local-lib": {"version": "file:libs/local-lib"},
        },
    }
    (tmp_path / "package-lock.json").write_text(json.dumps(lock, indent=2) + "\n")
    comps, gaps = parse_one(tmp_path, "package-lock.json")
    assert gaps == []
    assert set(comps) == {
        "pkg:npm/debug@2.6.9",
        "pkg:npm/express@4.17.1",
        "pkg:npm/ms@2.1.3",
        "pkg:npm/fsevents@2.3.2",
        "pkg:npm/mocha@9.2.2",
        "pkg:npm/ms@2.0.0",
        "pkg:npm/string-width@4.2.3",
    }
    express = comps["pkg:npm/express@4.17.1"]
    assert express.hashes == (("SHA-1", hexdigest("express", "sha1")),)
    # Node resolution: express's ms is its nested copy, debug's is the hoisted one.
    assert set(express.dependencies) == {"pkg:npm/debug@2.6.9", "pkg:npm/ms@2.1.3"}
    assert comps["pkg:npm/debug@2.6.9"].dependencies == ("pkg:npm/ms@2.0.0",)
    assert comps["pkg:npm/ms@2.1.3"].scope == "required"  # express's copy wins over mocha's
    assert comps["pkg:npm/mocha@9.2.2"].scope == "dev"
    assert comps["pkg:npm/fsevents@2.3.2"].scope == "optional"
    assert comps["pkg:npm/debug@2.6.9"].line == 7
    assert comps["pkg:npm/debug@2.6.9"].hashes == (("SHA-512", hexdigest("debug")),)


def npm_workspace_lock() -> dict:
    return {
        "name": "monorepo",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {
                "name": "monorepo",
                "workspaces": ["packages/*"],
                "devDependencies": {"typescript": "^5.4.0"},
            },
            "node_modules/@acme/api": {"resolved": "packages/api", "link": True},
            "node_modules/@acme/web": {"resolved": "packages/web", "link": True},
            "node_modules/debug": {
                "version": "2.6.9",
                "resolved": "https://registry.npmjs.org/debug/-/debug-2.6.9.tgz",
                "integrity": sri("debug"),
                "license": "MIT",
                "dependencies": {"ms": "2.0.0"},
            },
            "node_modules/esbuild-darwin-arm64": {"version": "0.15.18", "devOptional": True},
            "node_modules/express": {
                "version": "4.19.2",
                "resolved": "https://registry.npmjs.org/express/-/express-4.19.2.tgz",
                "integrity": sri("express"),
                "license": "MIT",
                "dependencies": {"debug": "2.6.9"},
            },
            "node_modules/fsevents": {"version": "2.3.3", "optional": True, "os": ["darwin"]},
            "node_modules/ms": {"version": "2.0.0", "license": "MIT"},
            "node_modules/react": {"version": "18.2.0", "license": "MIT"},
            "node_modules/string-width-cjs": {
                "name": "string-width",
                "version": "4.2.3",
                "license": "MIT",
            },
            "node_modules/typescript": {
                "version": "5.4.5",
                "dev": True,
                "license": "Apache-2.0",
            },
            "packages/api": {
                "name": "@acme/api",
                "version": "1.0.0",
                "dependencies": {"@acme/web": "*", "express": "^4.19.2", "ms": "^2.1.3"},
            },
            "packages/api/node_modules/ms": {"version": "2.1.3", "license": "MIT"},
            "packages/web": {
                "name": "@acme/web",
                "version": "1.0.0",
                "dependencies": {"react": "^18.2.0", "string-width-cjs": "npm:string-width@^4"},
            },
        },
    }


def test_package_lock_v3_workspaces_links_nested_and_flags(tmp_path):
    (tmp_path / "package-lock.json").write_text(json.dumps(npm_workspace_lock(), indent=2))
    comps, gaps = parse_one(tmp_path, "package-lock.json")
    assert gaps == []
    assert not any(c.name.startswith("@acme/") for c in comps.values())  # members, links
    ws = {c.purl: c.workspace for c in comps.values()}
    assert ws == {
        "pkg:npm/debug@2.6.9": None,
        "pkg:npm/esbuild-darwin-arm64@0.15.18": None,
        "pkg:npm/express@4.19.2": "packages/api",
        "pkg:npm/fsevents@2.3.3": None,
        "pkg:npm/ms@2.0.0": None,
        "pkg:npm/ms@2.1.3": "packages/api",
        "pkg:npm/react@18.2.0": "packages/web",
        "pkg:npm/string-width@4.2.3": "packages/web",
        "pkg:npm/typescript@5.4.5": ".",
    }
    assert comps["pkg:npm/typescript@5.4.5"].scope == "dev"
    assert comps["pkg:npm/fsevents@2.3.3"].scope == "optional"
    assert comps["pkg:npm/esbuild-darwin-arm64@0.15.18"].scope == "optional"  # devOptional
    assert comps["pkg:npm/express@4.19.2"].dependencies == ("pkg:npm/debug@2.6.9",)
    assert comps["pkg:npm/debug@2.6.9"].dependencies == ("pkg:npm/ms@2.0.0",)
    assert comps["pkg:npm/debug@2.6.9"].licenses == ("MIT",)
    assert comps["pkg:npm/typescript@5.4.5"].licenses == ("Apache-2.0",)
    assert comps["pkg:npm/express@4.19.2"].line == 36


def test_package_lock_v2_prefers_packages_over_legacy_dependencies(tmp_path):
    lock = {
        "name": "app",
        "lockfileVersion": 2,
        "packages": {
            "": {"dependencies": {"left-pad": "^1.3.0"}},
            "node_modules/left-pad": {"version": "1.3.0", "integrity": sri("left-pad")},
        },
        "dependencies": {"left-pad": {"version": "1.3.0", "integrity": sri("left-pad")}},
    }
    (tmp_path / "npm-shrinkwrap.json").write_text(json.dumps(lock, indent=2))
    comps, gaps = parse_one(tmp_path, "npm-shrinkwrap.json")
    assert (list(comps), gaps) == (["pkg:npm/left-pad@1.3.0"], [])
    assert comps["pkg:npm/left-pad@1.3.0"].line == 10


# ---------------------------------------------------------------- yarn.lock


def test_yarn_classic_specifier_groups_aliases_and_dev_from_package_json(tmp_path):
    write_tree(
        tmp_path,
        {
            "yarn.lock": f"""
            # THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
            # yarn lockfile v1


            "@babel/code-frame@^7.0.0", "@babel/code-frame@^7.22.13":
              version "7.24.2"
              resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.24.2.tgz#5a3f9b3a"
              integrity {sri("code-frame")}
              dependencies:
                "@babel/highlight" "^7.24.2"
                picocolors "^1.0.0"

            "@babel/highlight@^7.24.2":
              version "7.24.2"
              resolved "https://registry.yarnpkg.com/@babel/highlight/-/highlight-7.24.2.tgz"
              integrity {sri("highlight")}
              dependencies:
                picocolors "^1.0.0"

            anymatch@~3.1.2:
              version "3.1.3"
              resolved "https://registry.yarnpkg.com/anymatch/-/anymatch-3.1.3.tgz"

            chokidar@^3.5.3:
              version "3.6.0"
              resolved "https://registry.yarnpkg.com/chokidar/-/chokidar-3.6.0.tgz"
              dependencies:
                anymatch "~3.1.2"
              optionalDependencies:
                fsevents "~2.3.2"

            fsevents@~2.3.2:
              version "2.3.3"
              resolved "https://registry.yarnpkg.com/fsevents/-/fsevents-2.3.3.tgz"

            lodash@^4.17.20, lodash@^4.17.21:
              version "4.17.21"
              resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz"
              integrity {sri("lodash")}

            picocolors@^1.0.0:
              version "1.0.0"
              resolved "https://registry.yarnpkg.com/picocolors/-/picocolors-1.0.0.tgz"

            "string-width-cjs@npm:string-width@^4.2.0":
              version "4.2.3"
              resolved "https://registry.yarnpkg.com/string-width/-/string-width-4.2.3.tgz"
            """,
            "package.json": """
            {
              "name": "classic-app",
              "dependencies": {"lodash": "^4.17.21", "chokidar": "^3.5.3"},
              "devDependencies": {
                "@babel/code-frame": "^7.22.13",
                "string-width-cjs": "npm:string-width@^4.2.0"
              }
            }
            """,
        },
    )
    comps, gaps = parse_one(tmp_path, "yarn.lock")
    assert gaps == []
    scopes = {c.name: c.scope for c in comps.values()}
    assert scopes == {
        "@babel/code-frame": "dev",
        "@babel/highlight": "dev",
        "anymatch": "required",
        "chokidar": "required",
        "fsevents": "optional",
        "lodash": "required",
        "picocolors": "dev",
        "string-width": "dev",
    }
    frame = named(comps, "@babel/code-frame")
    assert frame.purl == "pkg:npm/%40babel/code-frame@7.24.2"
    assert frame.line == 5
    assert frame.hashes == (("SHA-512", hexdigest("code-frame")),)
    assert set(frame.dependencies) == {
        "pkg:npm/%40babel/highlight@7.24.2",
        "pkg:npm/picocolors@1.0.0",
    }
    assert named(comps, "chokidar").dependencies == (
        "pkg:npm/anymatch@3.1.3",
        "pkg:npm/fsevents@2.3.3",
    )
    assert all(c.workspace is None for c in comps.values())


YARN_BERRY = f"""
# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 8
  cacheKey: 10c0

"@types/node@npm:^20.11.0":
  version: 20.11.30
  resolution: "@types/node@npm:20.11.30"
  dependencies:
    undici-types: "npm:~5.26.4"
  checksum: 10c0/{hexdigest("types-node")}
  languageName: node
  linkType: hard

"fsevents@npm:~2.3.2":
  version: 2.3.3
  resolution: "fsevents@npm:2.3.3"
  dependencies:
    node-gyp: "npm:latest"
  conditions: os=darwin
  languageName: node
  linkType: hard

"fsevents@patch:fsevents@npm%3A~2.3.2#optional!builtin<compat/fsevents>":
  version: 2.3.3
  resolution: "fsevents@patch:fsevents@npm%3A2.3.3#optional!builtin<compat/fsevents>::version=2.3.3&hash=df0bf1"
  conditions: os=darwin
  languageName: node
  linkType: hard

"local-tool@link:./tools/local::locator=monorepo%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "local-tool@link:./tools/local::locator=monorepo%40workspace%3A."
  languageName: node
  linkType: soft

"loose-envify@npm:^1.1.0":
  version: 1.4.0
  resolution: "loose-envify@npm:1.4.0"
  checksum: 10c0/{hexdigest("loose-envify")}
  languageName: node
  linkType: hard

"monorepo@workspace:.":
  version: 0.0.0-use.local
  resolution: "monorepo@workspace:."
  dependencies:
    "@types/node": "npm:^20.11.0"
    local-tool: "link:./tools/local"
    typescript: "patch:typescript@npm%3A^5.4.2#optional!builtin<compat/typescript>"
  languageName: unknown
  linkType: soft

"react@npm:^18.2.0":
  version: 18.2.0
  resolution: "react@npm:18.2.0"
  dependencies:
    loose-envify: "npm:^1.1.0"
  languageName: node
  linkType: hard

"string-width-cjs@npm:string-width@^4.2.0, string-width@npm:^4.2.0":
  version: 4.2.3
  resolution: "string-width@npm:4.2.3"
  languageName: node
  linkType: hard

"typescript@npm:^5.4.2":
  version: 5.4.3
  resolution: "typescript@npm:5.4.3"
  languageName: node
  linkType: hard

"typescript@patch:typescript@npm%3A^5.4.2#optional!builtin<compat/typescript>":
  version: 5.4.3
  resolution: "typescript@patch:typescript@npm%3A5.4.3#optional!builtin<compat/typescript>::version=5.4.3&hash=5adc0c"
  languageName: node
  linkType: hard

"undici-types@npm:~5.26.4":
  version: 5.26.5
  resolution: "undici-types@npm:5.26.5"
  languageName: node
  linkType: hard

"web@workspace:packages/web":
  version: 0.0.0-use.local
  resolution: "web@workspace:packages/web"
  dependencies:
    fsevents: "npm:~2.3.2"
    react: "npm:^18.2.0"
    string-width-cjs: "npm:string-width@^4.2.0"
  dependenciesMeta:
    fsevents:
      optional: true
  languageName: unknown
  linkType: soft
"""


def test_yarn_berry_patch_workspace_alias_and_scopes(tmp_path):
    write_tree(
        tmp_path,
        {
            "yarn.lock": YARN_BERRY,
            "package.json": """
            {"name": "monorepo", "private": true, "workspaces": ["packages/*"],
             "devDependencies": {"typescript": "^5.4.2", "@types/node": "^20.11.0"}}
            """,
            "packages/web/package.json": """
            {"name": "web", "dependencies": {"react": "^18.2.0",
             "string-width-cjs": "npm:string-width@^4.2.0"},
             "optionalDependencies": {"fsevents": "~2.3.2"}}
            """,
        },
    )
    comps, gaps = parse_one(tmp_path, "yarn.lock")
    assert gaps == []
    assert set(comps) == {
        "pkg:npm/%40types/node@20.11.30",
        "pkg:npm/fsevents@2.3.3",
        "pkg:npm/loose-envify@1.4.0",
        "pkg:npm/react@18.2.0",
        "pkg:npm/string-width@4.2.3",
        "pkg:npm/typescript@5.4.3",  # the patch: locator is the same package
        "pkg:npm/undici-types@5.26.5",
    }
    by = {c.name: (c.scope, c.workspace) for c in comps.values()}
    assert by == {
        "@types/node": ("dev", "."),
        "fsevents": ("optional", "packages/web"),
        "loose-envify": ("required", None),
        "react": ("required", "packages/web"),
        "string-width": ("required", "packages/web"),
        "typescript": ("dev", "."),
        "undici-types": ("dev", None),
    }
    types_node = named(comps, "@types/node")
    # Berry's checksum hashes Yarn's cache zip: kept, but not as a CycloneDX hash algorithm.
    assert types_node.hashes == (("yarn-checksum", f"10c0/{hexdigest('types-node')}"),)
    assert types_node.dependencies == ("pkg:npm/undici-types@5.26.5",)
    assert types_node.line == 8
    assert named(comps, "react").dependencies == ("pkg:npm/loose-envify@1.4.0",)


# ---------------------------------------------------------------- pnpm-lock.yaml


def test_pnpm_v5_slash_keys_peer_suffixes_and_dev_flags(tmp_path):
    write_tree(
        tmp_path,
        {
            "pnpm-lock.yaml": f"""
            lockfileVersion: 5.4

            specifiers:
              express: ^4.18.2
              react-dom: ^18.2.0
              typescript: ^5.0.0

            dependencies:
              express: 4.18.2
              react-dom: 18.2.0_react@18.2.0

            devDependencies:
              typescript: 5.0.4

            packages:

              /accepts/1.3.8:
                resolution: {{integrity: {sri("accepts")}}}
                engines: {{node: '>= 0.6'}}
                dependencies:
                  mime-types: 2.1.35
                dev: false

              /express/4.18.2:
                resolution: {{integrity: {sri("express")}}}
                engines: {{node: '>= 0.10.0'}}
                dependencies:
                  accepts: 1.3.8
                dev: false

              /mime-types/2.1.35:
                resolution: {{integrity: {sri("mime-types")}}}
                dev: false

              /react-dom/18.2.0_react@18.2.0:
                resolution: {{integrity: {sri("react-dom")}}}
                peerDependencies:
                  react: ^18.2.0
                dependencies:
                  react: 18.2.0
                dev: false

              /react/18.2.0:
                resolution: {{integrity: {sri("react")}}}
                dev: false

              /typescript/5.0.4:
                resolution: {{integrity: {sri("typescript")}}}
                engines: {{node: '>=12.20'}}
                hasBin: true
                dev: true
            """
        },
    )
    comps, gaps = parse_one(tmp_path, "pnpm-lock.yaml")
    assert gaps == []
    assert {c.purl: c.scope for c in comps.values()} == {
        "pkg:npm/accepts@1.3.8": "required",
        "pkg:npm/express@4.18.2": "required",
        "pkg:npm/mime-types@2.1.35": "required",
        "pkg:npm/react-dom@18.2.0": "required",
        "pkg:npm/react@18.2.0": "required",
        "pkg:npm/typescript@5.0.4": "dev",
    }
    assert named(comps, "react-dom").dependencies == ("pkg:npm/react@18.2.0",)
    assert named(comps, "express").hashes == (("SHA-512", hexdigest("express")),)
    assert named(comps, "accepts").line == 17


def test_pnpm_v6_importers_workspaces_and_links(tmp_path):
    write_tree(
        tmp_path,
        {
            "pnpm-lock.yaml": f"""
            lockfileVersion: '6.0'

            settings:
              autoInstallPeers: true
              excludeLinksFromLockfile: false

            importers:

              .:
                devDependencies:
                  typescript:
                    specifier: ^5.4.0
                    version: 5.4.3

              packages/api:
                dependencies:
                  '@acme/shared':
                    specifier: workspace:*
                    version: link:../shared
                  react-dom:
                    specifier: ^18.2.0
                    version: 18.2.0(react@18.2.0)

              packages/shared:
                dependencies:
                  lodash:
                    specifier: ^4.17.21
                    version: 4.17.21

            packages:

              /js-tokens@4.0.0:
                resolution: {{integrity: {sri("js-tokens")}}}
                dev: false

              /lodash@4.17.21:
                resolution: {{integrity: {sri("lodash")}}}
                dev: false

              /loose-envify@1.4.0:
                resolution: {{integrity: {sri("loose-envify")}}}
                hasBin: true
                dependencies:
                  js-tokens: 4.0.0
                dev: false

              /react-dom@18.2.0(react@18.2.0):
                resolution: {{integrity: {sri("react-dom")}}}
                peerDependencies:
                  react: ^18.2.0
                dependencies:
                  loose-envify: 1.4.0
                  react: 18.2.0
                  scheduler: 0.23.0
                dev: false

              /react@18.2.0:
                resolution: {{integrity: {sri("react")}}}
                dependencies:
                  loose-envify: 1.4.0
                dev: false

              /scheduler@0.23.0:
                resolution: {{integrity: {sri("scheduler")}}}
                dependencies:
                  loose-envify: 1.4.0
                dev: false

              /typescript@5.4.3:
                resolution: {{integrity: {sri("typescript")}}}
                hasBin: true
                dev: true
            """
        },
    )
    comps, gaps = parse_one(tmp_path, "pnpm-lock.yaml")
    assert gaps == []
    assert "@acme/shared" not in {c.name for c in comps.values()}
    by = {c.name: (c.scope, c.workspace) for c in comps.values()}
    assert by == {
        "js-tokens": ("required", None),
        "lodash": ("required", "packages/shared"),
        "loose-envify": ("required", None),
        "react-dom": ("required", "packages/api"),
        "react": ("required", None),
        "scheduler": ("required", None),
        "typescript": ("dev", "."),
    }
    assert set(named(comps, "react-dom").dependencies) == {
        "pkg:npm/loose-envify@1.4.0",
        "pkg:npm/react@18.2.0",
        "pkg:npm/scheduler@0.23.0",
    }


def test_pnpm_v9_packages_snapshots_aliases_and_reachability_scopes(tmp_path):
    write_tree(
        tmp_path,
        {
            "pnpm-lock.yaml": f"""
            lockfileVersion: '9.0'

            settings:
              autoInstallPeers: true
              excludeLinksFromLockfile: false

            importers:

              .:
                dependencies:
                  express:
                    specifier: ^4.19.2
                    version: 4.19.2
                  string-width-cjs:
                    specifier: npm:string-width@^4.2.0
                    version: string-width@4.2.3
                devDependencies:
                  vitest:
                    specifier: ^1.4.0
                    version: 1.4.0(@types/node@20.11.30)
                optionalDependencies:
                  fsevents:
                    specifier: ~2.3.3
                    version: 2.3.3

              packages/ui:
                dependencies:
                  react-dom:
                    specifier: ^18.2.0
                    version: 18.2.0(react@18.2.0)

            packages:

              '@types/node@20.11.30':
                resolution: {{integrity: {sri("types-node")}}}

              debug@2.6.9:
                resolution: {{integrity: {sri("debug")}}}

              express@4.19.2:
                resolution: {{integrity: {sri("express")}}}
                engines: {{node: '>= 0.10.0'}}

              fsevents@2.3.3:
                resolution: {{integrity: {sri("fsevents")}}}
                engines: {{node: ^8.16.0 || ^10.6.0 || >=11.0.0}}
                os: [darwin]

              loose-envify@1.4.0:
                resolution: {{integrity: {sri("loose-envify")}}}
                hasBin: true

              ms@2.0.0:
                resolution: {{integrity: {sri("ms")}}}

              react-dom@18.2.0:
                resolution: {{integrity: {sri("react-dom")}}}
                peerDependencies:
                  react: ^18.2.0

              react@18.2.0:
                resolution: {{integrity: {sri("react")}}}

              string-width@4.2.3:
                resolution: {{integrity: {sri("string-width")}}}

              tinypool@0.8.3:
                resolution: {{integrity: {sri("tinypool")}}}

              vitest@1.4.0:
                resolution: {{integrity: {sri("vitest")}}}
                peerDependencies:
                  '@types/node': ^18.0.0 || >=20.0.0

            snapshots:

              '@types/node@20.11.30': {{}}

              debug@2.6.9:
                dependencies:
                  ms: 2.0.0

              express@4.19.2:
                dependencies:
                  debug: 2.6.9

              fsevents@2.3.3:
                optional: true

              loose-envify@1.4.0: {{}}

              ms@2.0.0: {{}}

              react-dom@18.2.0(react@18.2.0):
                dependencies:
                  loose-envify: 1.4.0
                  react: 18.2.0

              react@18.2.0:
                dependencies:
                  loose-envify: 1.4.0

              string-width@4.2.3: {{}}

              tinypool@0.8.3: {{}}

              vitest@1.4.0(@types/node@20.11.30):
                dependencies:
                  '@types/node': 20.11.30
                  tinypool: 0.8.3
            """
        },
    )
    comps, gaps = parse_one(tmp_path, "pnpm-lock.yaml")
    assert gaps == []
    by = {c.purl: (c.scope, c.workspace) for c in comps.values()}
    assert by == {
        "pkg:npm/%40types/node@20.11.30": ("dev", None),
        "pkg:npm/debug@2.6.9": ("required", None),
        "pkg:npm/express@4.19.2": ("required", "."),
        "pkg:npm/fsevents@2.3.3": ("optional", "."),
        "pkg:npm/loose-envify@1.4.0": ("required", None),
        "pkg:npm/ms@2.0.0": ("required", None),
        "pkg:npm/react-dom@18.2.0": ("required", "packages/ui"),
        "pkg:npm/react@18.2.0": ("required", None),
        "pkg:npm/string-width@4.2.3": ("required", "."),
        "pkg:npm/tinypool@0.8.3": ("dev", None),
        "pkg:npm/vitest@1.4.0": ("dev", "."),
    }
    vitest = comps["pkg:npm/vitest@1.4.0"]
    assert set(vitest.dependencies) == {
        "pkg:npm/%40types/node@20.11.30",
        "pkg:npm/tinypool@0.8.3",
    }
    assert vitest.hashes == (("SHA-512", hexdigest("vitest")),)
    assert comps["pkg:npm/%40types/node@20.11.30"].line == 34


# ---------------------------------------------------------------- bun.lock


def test_bun_lock_text_format_with_trailing_commas_workspaces_and_nesting(tmp_path):
    write_tree(
        tmp_path,
        {
            "bun.lock": f"""
            {{
              "lockfileVersion": 1,
              "workspaces": {{
                "": {{
                  "name": "bun-app",
                  "dependencies": {{
                    "hono": "^4.2.0",
                  }},
                  "devDependencies": {{
                    "@types/bun": "latest",
                  }},
                }},
                "packages/lib": {{
                  "name": "@app/lib",
                  "dependencies": {{
                    "zod": "^3.22.4",
                  }},
                }},
              }},
              "packages": {{
                "@app/lib": ["@app/lib@workspace:packages/lib"],

                "@types/bun": ["@types/bun@1.1.0", "", {{ "dependencies": {{ "bun-types": "1.1.0" }} }}, "{sri("types-bun")}"],

                "@types/node": ["@types/node@20.12.14", "", {{ "dependencies": {{ "undici-types": "~5.26.4" }} }}, "{sri("types-node")}"],

                "bun-types": ["bun-types@1.1.0", "", {{ "dependencies": {{ "@types/node": "~20.12.8", "@types/ws": "~8.5.10" }} }}, "{sri("bun-types")}"],

                "hono": ["hono@4.2.4", "", {{}}, "{sri("hono")}"],

                "undici-types": ["undici-types@5.26.5", "", {{}}, "{sri("undici")}"],

                "zod": ["zod@3.22.4", "", {{}}, "{sri("zod")}"],

                "@types/ws": ["@types/ws@8.5.12", "", {{}}, "{sri("ws-hoisted")}"],

                "bun-types/@types/ws": ["@types/ws@8.5.10", "", {{}}, "{sri("ws-nested")}"],
              }}
            }}
            """
        },
    )
    comps, gaps = parse_one(tmp_path, "bun.lock")
    assert gaps == []
    by = {c.purl: (c.scope, c.workspace) for c in comps.values()}
    assert by == {
        "pkg:npm/%40types/bun@1.1.0": ("dev", "."),
        "pkg:npm/%40types/node@20.12.14": ("dev", None),
        "pkg:npm/%40types/ws@8.5.10": ("dev", None),
        "pkg:npm/%40types/ws@8.5.12": ("required", None),  # nobody reaches the hoisted copy
        "pkg:npm/bun-types@1.1.0": ("dev", None),
        "pkg:npm/hono@4.2.4": ("required", "."),
        "pkg:npm/undici-types@5.26.5": ("dev", None),
        "pkg:npm/zod@3.22.4": ("required", "packages/lib"),
    }
    # bun-types uses its own nested @types/ws, not the hoisted one.
    assert set(comps["pkg:npm/bun-types@1.1.0"].dependencies) == {
        "pkg:npm/%40types/node@20.12.14",
        "pkg:npm/%40types/ws@8.5.10",
    }
    assert comps["pkg:npm/hono@4.2.4"].hashes == (("SHA-512", hexdigest("hono")),)
    assert comps["pkg:npm/hono@4.2.4"].line == 29
