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
    if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
        subprocess.run([sys.executable, "-m", "venv", str(APP_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(REQUIREMENTS.read_text())
    return str(python)
