"""tests/harness/run-scenarios.sh with a stand-in molecule: what make test prints of each scenario, and its status."""

import os
import re
import subprocess

from conftest import ROOT

SCRIPT = ROOT / "tests" / "harness" / "run-scenarios.sh"
# Prints molecule's step lines as molecule does, sleeping in converge, and exits with $FAKE_RC.
MOLECULE = """#!/bin/sh
echo "INFO     [$3 > destroy] Executing"
echo "INFO     [$3 > destroy] Executed: Successful"
echo "INFO     [$3 > converge] Executing"
sleep 1
echo "INFO     [$3 > converge] Executed: Successful"
echo "INFO     [$3 > verify] Executing"
echo "INFO     [$3 > verify] Executing Testinfra tests found in tests/..."
echo "INFO     [$3 > verify] Executed: Successful"
echo "INFO     [$3 > destroy] Executing"
echo "INFO     [$3 > destroy] Executed: Successful"
echo "============================== 7 passed in 0.50s =============================="
exit "${FAKE_RC:-0}"
"""


def run(tmp_path, rc, *scenarios):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "molecule").write_text(MOLECULE)
    (bin_dir / "molecule").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYOPS_CACHE_DIR=str(tmp_path), FAKE_RC=str(rc))
    return subprocess.run(["bash", str(SCRIPT), "2", *scenarios], capture_output=True, text=True, env=env,
                          check=False)


def test_a_passing_scenario_says_how_long_each_step_took_and_its_test_count(tmp_path):
    proc = run(tmp_path, 0, "alpha", "beta")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("alpha", "beta"):
        steps = r"destroy 0 s, converge [12] s, verify 0 s, destroy 0 s"
        line = re.search(rf"^molecule: {name} passed in \d+ s \({steps}\)$", proc.stdout, re.M)
        assert line, proc.stdout
    assert proc.stdout.count("7 passed in 0.50s") == 2
    assert "] Executing" in (tmp_path / "logs" / "alpha.log").read_text()


def test_a_failing_scenario_fails_the_run_and_prints_its_log(tmp_path):
    proc = run(tmp_path, 3, "alpha")
    assert proc.returncode != 0
    assert "molecule: alpha FAILED after" in proc.stdout and "[alpha > converge] Executing" in proc.stdout
