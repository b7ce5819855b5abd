"""The execution environment: ansible-builder v3 turns execution-environment.yml into a build context (no container
build here), and introspecting the installed collection finds its own Python and system dependencies."""

from __future__ import annotations

import os
import subprocess

import yaml

from hrtest import BIN, REPO


def builder(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible-builder"), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


def test_ansible_builder_creates_the_build_context(tmp_path):
    context = tmp_path / "context"
    run = builder("create", "-f", "execution-environment.yml", "-c", str(context), "--output-filename", "Containerfile")
    assert run.returncode == 0, run.stdout + run.stderr
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="registry.fedoraproject.org/fedora:41"' in containerfile
    assert "ansible-core>=2.19,<2.20" in containerfile and "ansible-runner>=2.4" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {item["name"] for item in requirements["collections"]} == {
        "matbakh.hybrid_routing", "amazon.aws"}
    assert (context / "_build" / "scripts" / "introspect.py").is_file()


def test_the_collection_declares_its_dependencies_for_introspection():
    run = builder("introspect", "--sanitize", os.environ["HR_TEST_COLLECTIONS_ROOT"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "boto3>=1.34  # from collection matbakh.hybrid_routing" in run.stdout
    assert "ca-certificates [platform:rpm platform:dpkg]  # from collection matbakh.hybrid_routing" in run.stdout
