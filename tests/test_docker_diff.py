"""``preflight diff`` against real images on a real engine: ``local`` vs ``image:NAME``, image vs image.

Skipped, with the reason, when no engine is reachable; under ``CI=true`` that is a failure instead
(the ``docker_engine`` fixture of ``dockerfixtures.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import dockerutil
import pytest
from test_diff import diff, monitoring_service
from test_fingerprint import CANARY

pytestmark = pytest.mark.docker

MANIFEST = "version: 1\ntimeout: 30\nimports: [app.main, app.middleware.gcp_auth]\n"


def build(context: Path, tag: str, dockerfile: str, dockerignore: str = "**/__pycache__\n") -> str:
    (context / "Dockerfile").write_text(dockerfile)
    (context / ".dockerignore").write_text(dockerignore)
    dockerutil.build_image(context, tag)
    return tag


def test_local_vs_an_image_whose_dockerignore_drops_a_subpackage(runtime_image: str, tmp_path: Path) -> None:
    tree = monitoring_service(tmp_path / "svc", with_monitoring=True)
    (tree / "preflight.yaml").write_text(MANIFEST)
    tag = build(tree, "preflight-test/diff-dockerignore",
                f"FROM {runtime_image}\nCOPY . /app/\n",
                "**/__pycache__\n# monitoring ships as a sidecar, they said\napp/services/monitoring\n")

    result = diff("local", f"image:{tag}", cwd=tree, SESSION_SECRET=CANARY)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (f"app/services/monitoring/ exists here and not in image {tag}; "
                                             "app/middleware/gcp_auth.py:3 needs it")
    assert CANARY not in result.stdout + result.stderr

    machine = diff("local", f"image:{tag}", "--format", "json", cwd=tree)
    data = json.loads(machine.stdout)
    [explained] = data["explained"]
    assert (explained["passes"], explained["fails"], explained["cause"]) == ("a", "b", "module_not_found")
    image_env = data["differences"]  # the image's own fingerprint came back from the container
    assert any(f["message"].startswith("the working directory is") for f in image_env.get("cwd", []))


def test_two_images_with_workdir_drift(runtime_image: str, tmp_path: Path) -> None:
    contexts = {}
    for name in ("good", "drifted"):
        context = monitoring_service(tmp_path / name, with_monitoring=True)
        (context / "preflight.yaml").write_text(MANIFEST)
        contexts[name] = context
    good = build(contexts["good"], "preflight-test/diff-workdir-good",
                 f"FROM {runtime_image}\nWORKDIR /srv/service\nCOPY app/ /srv/service/app/\n")
    drifted = build(contexts["drifted"], "preflight-test/diff-workdir-drifted",
                    f"FROM {runtime_image}\nWORKDIR /srv\nCOPY app/ /srv/service/app/\n")
    manifest = tmp_path / "preflight.yaml"
    manifest.write_text(MANIFEST)

    result = diff(f"image:{good}", f"image:{drifted}", "--manifest", str(manifest), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"/srv/service holds app and is on sys.path in image {good} (the working directory), "
                               f"not in image {drifted}")
    assert f"the working directory is /srv/service in image {good} and /srv in image {drifted}" in result.stdout


def test_an_unknown_image_is_bad_input(docker_engine: None, tmp_path: Path) -> None:
    tree = monitoring_service(tmp_path / "svc", with_monitoring=True)
    result = diff("local", "image:preflight-test/no-such-image:0", cwd=tree)
    assert result.returncode == 2
    assert "no image 'preflight-test/no-such-image:0'" in result.stderr and result.stdout == ""
