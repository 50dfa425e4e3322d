"""docker/pytorchjob.yaml, checked by structure against Kubeflow training operator's PyTorchJob
(kubeflow.org/v1; no cluster here): the fields the operator reads, the image compose builds,
replicas and GPUs that agree with the bp-train command, and a command that composes."""

from __future__ import annotations

import pytest
import yaml

from bp_app.config.checks import check_train_config
from tests.conftest import REPO, compose_config

MANIFEST = REPO / "docker" / "pytorchjob.yaml"
COMPOSE = REPO / "docker" / "compose.yaml"
# PyTorchJob v1: the spec's fields, the replica types and a replica's fields (the CRD's schema).
SPEC_FIELDS = {"pytorchReplicaSpecs", "runPolicy", "elasticPolicy", "nprocPerNode"}
REPLICA_TYPES = {"Master", "Worker"}
REPLICA_FIELDS = {"replicas", "restartPolicy", "template"}
RESTART_POLICIES = {"Always", "OnFailure", "Never", "ExitCode"}
CLEAN_POD_POLICIES = {"All", "Running", "None"}


@pytest.fixture(scope="module")
def job() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def training_container(replica: dict) -> dict:
    containers = replica["template"]["spec"]["containers"]
    named = [c for c in containers if c["name"] == "pytorch"]  # the name the operator looks for
    assert len(named) == 1, "one container named pytorch per pod"
    return named[0]


def test_pytorchjob_has_the_kubeflow_v1_shape(job):
    assert job["apiVersion"] == "kubeflow.org/v1" and job["kind"] == "PyTorchJob"
    assert job["metadata"]["name"]
    spec = job["spec"]
    assert set(spec) <= SPEC_FIELDS
    assert isinstance(spec["nprocPerNode"], str) and spec["nprocPerNode"].isdigit()  # a string
    assert spec["runPolicy"]["cleanPodPolicy"] in CLEAN_POD_POLICIES
    replicas = spec["pytorchReplicaSpecs"]
    assert set(replicas) <= REPLICA_TYPES and replicas["Master"]["replicas"] == 1
    for replica in replicas.values():
        assert set(replica) <= REPLICA_FIELDS
        assert isinstance(replica["replicas"], int) and replica["replicas"] >= 1
        assert replica["restartPolicy"] in RESTART_POLICIES
        training_container(replica)


def test_pytorchjob_runs_the_image_compose_builds_under_torchrun(job):
    image = yaml.safe_load(COMPOSE.read_text())["services"]["train"]["image"]
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        container = training_container(replica)
        assert container["image"] == image
        assert container["command"] == ["torchrun"]  # it reads the operator's PET_* variables
        assert container["args"][:2] == ["-m", "bp_app.train"]


def test_pytorchjob_nodes_and_gpus_match_the_bp_train_command(job, tmp_path):
    spec = job["spec"]
    nodes = sum(r["replicas"] for r in spec["pytorchReplicaSpecs"].values())
    for replica in spec["pytorchReplicaSpecs"].values():
        container = training_container(replica)
        overrides = container["args"][2:]
        cfg = compose_config("train", overrides, tmp_path / "run")  # what every rank composes
        check_train_config(cfg)
        assert cfg.trainer.num_nodes == nodes
        assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == -1  # every GPU given
        gpus = container["resources"]["limits"]["nvidia.com/gpu"]
        assert gpus == int(spec["nprocPerNode"])  # one rank per GPU
        run_dir = next(o for o in overrides if o.startswith("hydra.run.dir="))
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert any(run_dir.split("=", 1)[1].startswith(m + "/") for m in mounts), (
            "the run directory lies on a mounted (shared) volume"
        )
