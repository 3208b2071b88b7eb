"""Each module of the collection documents exactly what it accepts: ansible-doc reads its DOCUMENTATION (a
description that YAML turns into a mapping breaks it), and the documented options, with their types, defaults and
suboptions, are those of the module's own argument_spec."""

import importlib.util
import json
import os
import subprocess

import pytest
from conftest import ROOT

MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))


class Captured(Exception):
    """Raised by the stand-in AnsibleModule once it has the module's argument_spec."""


def argument_spec(name, monkeypatch):
    spec = importlib.util.spec_from_file_location(name, ROOT / "plugins" / "modules" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise Captured

    monkeypatch.setattr(module, "AnsibleModule", capture)
    with pytest.raises(Captured):
        module.main()
    return seen["argument_spec"]


def compare(documented, accepted, where):
    assert sorted(documented) == sorted(accepted), where
    for option, spec in accepted.items():
        doc = documented[option]
        lines = doc.get("description")
        lines = [lines] if isinstance(lines, str) else lines
        assert lines and all(isinstance(line, str) for line in lines), f"{where}{option}: description {lines!r}"
        assert doc.get("type", "str") == spec.get("type", "str"), f"{where}{option}: type"
        assert doc.get("default") == spec.get("default"), f"{where}{option}: default"
        assert bool(doc.get("required")) == bool(spec.get("required")), f"{where}{option}: required"
        assert doc.get("choices") == spec.get("choices"), f"{where}{option}: choices"
        if "options" in spec or "suboptions" in doc:
            compare(doc.get("suboptions", {}), spec.get("options", {}), f"{where}{option}.")


@pytest.mark.parametrize("name", MODULES)
def test_the_documented_options_are_the_accepted_ones(name, monkeypatch):
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections")}
    proc = subprocess.run(["ansible-doc", "--json", "-t", "module", f"pyops.webstack.{name}"], capture_output=True,
                          text=True, check=False, env=env)
    assert proc.returncode == 0 and "ERROR" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)[f"pyops.webstack.{name}"]["doc"]
    assert all(isinstance(line, str) for line in doc["description"]), doc["description"]
    compare(doc["options"], argument_spec(name, monkeypatch), f"{name}: ")
