"""The GitHub Actions workflows: valid for actionlint, and doing what the README says they do."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    exe = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "actionlint"
    )
    if exe is None:
        pytest.fail(
            "actionlint is missing: it comes with the test extra (pip install -e '.[test]')"
        )
    return exe


def load(name):
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_actionlint_accepts_every_workflow():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"test.yml", "publish.yml", "weekly.yml"}
    result = subprocess.run(
        [actionlint(), "-color=false", *map(str, files)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.no_such_context }}\n"
    )
    result = subprocess.run(
        [actionlint(), "-color=false", str(bad)], capture_output=True, text=True
    )
    assert result.returncode != 0 and "no_such_context" in result.stdout


def steps(job):
    return [s.get("run", "") + s.get("uses", "") for s in job["steps"]]


def test_every_push_and_pull_request_runs_make_test():
    wf = load("test.yml")
    assert set(wf["on"]) == {"push", "pull_request"}
    assert "bash .ci/run" in steps(wf["jobs"]["test"])
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_publish_builds_for_this_repository_deploys_pages_and_pushes_the_colab_edition():
    wf = load("publish.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    build = "\n".join(steps(wf["jobs"]["build"]))
    assert 'set-repository\n--url "https://github.com/${GITHUB_REPOSITORY}" --branch colab' in (
        build.replace(" --url", "\n--url")
    )
    assert build.index("set-repository") < build.index("make book") < build.index("make colab")
    assert "actions/upload-pages-artifact" in build and "git push" in build and " colab" in build
    assert "actions/deploy-pages" in "\n".join(steps(wf["jobs"]["deploy"]))
    assert wf["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}


def run_set_repository(job, tmp_path, repository="a-fork/signlab-copy"):
    """Run the job's ``set-repository`` step (with this Python) in a folder holding a copy of
    ``_config.yml``, as GitHub would with ``GITHUB_REPOSITORY=repository``; the rewritten config."""
    commands = [s for s in steps(job) if "signbook.edition set-repository" in s]
    assert len(commands) == 1, f"one set-repository step expected, found {len(commands)}"
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    command = re.sub(r"\S*/bin/python\b", shlex.quote(sys.executable), commands[0])
    env = {**os.environ, "GITHUB_REPOSITORY": repository}
    result = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((tmp_path / "_config.yml").read_text())


@pytest.mark.parametrize("name, job", [("publish.yml", "build"), ("weekly.yml", "colab")])
def test_the_editions_point_at_the_repository_the_workflow_runs_in(name, job, tmp_path):
    """The placeholder repository.url must not reach the install and data cells of what a
    workflow builds: the set-repository step runs first, and rewrites the URL to this repository."""
    placeholder = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert "a-fork/signlab-copy" not in placeholder
    config = run_set_repository(load(name)["jobs"][job], tmp_path)
    assert config["repository"]["url"] == "https://github.com/a-fork/signlab-copy"
    assert config["repository"]["branch"] == "colab"
    runs = steps(load(name)["jobs"][job])
    first = next(k for k, s in enumerate(runs) if "set-repository" in s)
    builds = [k for k, s in enumerate(runs) if re.search(r"make (book|colab)|edition colab", s)]
    assert builds and first < min(builds)


def test_weekly_run_uses_colabs_image_and_opens_an_issue_on_failure():
    wf = load("weekly.yml")
    assert wf["on"]["schedule"][0]["cron"]
    colab = wf["jobs"]["colab"]
    assert colab["container"]["image"].startswith("us-docker.pkg.dev/colab-images/public/runtime")
    assert any("signbook.execute" in s for s in steps(colab))
    report = wf["jobs"]["report"]
    assert report["needs"] == "colab" and report["if"] == "failure()"
    assert report["permissions"] == {"issues": "write"}
    assert any("gh issue create" in s for s in steps(report))


def test_weekly_run_repeats_every_chapter_at_two_seeds_on_the_default_cpu_path():
    """Issue 20: every chapter passes at two further seeds, on ATEN's default path, with one and two
    threads; the weekly run in Colab's image does it as tests/test_colab.py does in CI."""
    colab = load("weekly.yml")["jobs"]["colab"]
    runs = [s for s in colab["steps"] if "signbook.execute" in s.get("run", "")]
    configs = {
        (
            s["env"].get("SIGNLAB_SEED"),
            s["env"].get("ATEN_CPU_CAPABILITY"),
            s["env"].get("OMP_NUM_THREADS"),
        )
        for s in runs
        if "env" in s
    }
    assert {("1", "default", "1"), ("2", "default", "2")} <= configs
    assert all("/tmp/colab/book/*.ipynb" in s["run"] for s in runs)
