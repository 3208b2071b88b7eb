import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))
APP_VENV = ROOT / ".cache" / "app-venv"
REQUIREMENTS = ROOT / "tests" / "fixtures" / "webapp" / "requirements.txt"


@pytest.fixture(scope="session")
def app_python():
    """A virtualenv with the app's pinned requirements (made once, kept in .cache)."""
    python = APP_VENV / "bin" / "python"
    stamp = APP_VENV / ".requirements"
    APP_VENV.parent.mkdir(parents=True, exist_ok=True)
    # pytest-xdist's workers each ask for it: the first makes it, the others wait for the lock, then find it made.
    with open(APP_VENV.parent / "app-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
            subprocess.run([sys.executable, "-m", "venv", str(APP_VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
            stamp.write_text(REQUIREMENTS.read_text())
    return str(python)
