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


def run(tmp_path, rc, *scenarios, molecule=MOLECULE):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "molecule").write_text(molecule)
    (bin_dir / "molecule").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYOPS_CACHE_DIR=str(tmp_path), FAKE_RC=str(rc))
    return subprocess.run(["bash", str(SCRIPT), "2", *scenarios], capture_output=True, text=True, env=env,
                          check=False)


def test_a_passing_scenario_says_how_long_each_step_took_and_its_test_count(tmp_path):
    proc = run(tmp_path, 0, "alpha", "beta")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("alpha", "beta"):
        steps = r"destroy \d+ s, converge \d+ s, verify \d+ s, destroy \d+ s"  # how long: the machine's business
        line = re.search(rf"^molecule: {name} passed in \d+ s \({steps}\)$", proc.stdout, re.M)
        assert line, proc.stdout
    assert proc.stdout.count("7 passed in 0.50s") == 2
    assert "] Executing" in (tmp_path / "logs" / "alpha.log").read_text()


def test_a_failing_scenario_fails_the_run_and_prints_its_log(tmp_path):
    proc = run(tmp_path, 3, "alpha")
    assert proc.returncode != 0
    assert "molecule: alpha FAILED after" in proc.stdout and "[alpha > converge] Executing" in proc.stdout


def test_a_failing_scenario_s_failures_are_printed_again_at_the_very_end(tmp_path):
    # CI may show only the head and the tail of make test's output: the assertion that failed must be in the tail.
    molecule = MOLECULE.replace('exit "${FAKE_RC:-0}"', 'echo "E   assert 2 == 0"\n'
                                'echo "FAILED tests/test_30.py::test_deploy - assert 2 == 0"\nexit "${FAKE_RC:-0}"')
    proc = run(tmp_path, 3, "alpha", "beta", molecule=molecule)
    assert proc.returncode != 0
    tail = proc.stdout[proc.stdout.rindex("molecule: alpha failed; its failures"):]
    assert "FAILED tests/test_30.py::test_deploy - assert 2 == 0" in tail and "E   assert 2 == 0" in tail
    assert tail.count("failed; its failures") == 2
    # A run that passes again leaves no stale failure behind.
    proc = run(tmp_path, 0, "alpha")
    assert proc.returncode == 0 and "its failures" not in proc.stdout
