"""The execution environment: ansible-builder v3 turns execution-environment.yml into a build context (no container
build here), and introspecting the installed collection finds its own Python and system dependencies."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from hrtest import BIN, REPO


def builder(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible-builder"), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_ee_installs_the_collection_from_the_tarball_the_project_builds(tmp_path):
    """As execution-environment.yml says: build the tarball, create the context; then the galaxy stage's install, run
    as the Containerfile runs it (in /build, which holds _build's files), installs this checkout's version offline."""
    built = subprocess.run(["bash", "scripts/build_collection.sh"], cwd=REPO, capture_output=True, text=True,
                           timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    assert built.stdout.strip().endswith(f"build/matbakh-hybrid_routing-{version}.tar.gz")
    context = tmp_path / "context"
    run = builder("create", "-f", "execution-environment.yml", "-c", str(context), "--output-filename", "Containerfile")
    assert run.returncode == 0, run.stdout + run.stderr
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="registry.fedoraproject.org/fedora:41"' in containerfile
    assert "ansible-core>=2.19,<2.20" in containerfile and "ansible-runner>=2.4" in containerfile
    # The tarball reaches /build before ansible-galaxy installs from it.
    steps = containerfile.splitlines()
    copy = steps.index("COPY _build/collections/ /build/collections/")
    install = next(index for index, step in enumerate(steps) if "ansible-galaxy collection install" in step)
    assert copy < install
    build = context / "_build"
    requirements = yaml.safe_load((build / "requirements.yml").read_text())["collections"]
    ours = [item for item in requirements if item.get("type") == "file"]
    assert [item["name"] for item in ours] == [f"collections/matbakh-hybrid_routing-{version}.tar.gz"]
    assert not [item for item in requirements if item["name"] == "matbakh.hybrid_routing"], "never from Galaxy"
    assert (build / ours[0]["name"]).is_file()
    (build / "ours.yml").write_text(yaml.safe_dump({"collections": ours}))
    installed = tmp_path / "collections"
    # --force: this virtualenv has the checkout linked in already (the image has nothing installed at that stage).
    install_run = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "-r", "ours.yml", "--no-deps",
                                  "--force", "-p", str(installed)], cwd=build, capture_output=True, text=True,
                                 timeout=120, check=False)
    assert install_run.returncode == 0, install_run.stdout + install_run.stderr
    manifest = json.loads((installed / "ansible_collections" / "matbakh" / "hybrid_routing" / "MANIFEST.json")
                          .read_text())
    assert manifest["collection_info"]["version"] == version
    assert (build / "scripts" / "introspect.py").is_file()


def test_the_collection_declares_its_dependencies_for_introspection():
    run = builder("introspect", "--sanitize", os.environ["HR_TEST_COLLECTIONS_ROOT"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "boto3>=1.36  # from collection matbakh.hybrid_routing" in run.stdout
    assert "ca-certificates [platform:rpm platform:dpkg]  # from collection matbakh.hybrid_routing" in run.stdout
