"""The house rules every role keeps, so `ansible-doc -t role pyops.webstack.<role>` tells the truth."""

import re
from pathlib import Path

import pytest
import yaml
from role_contract import comment_lines, defaults_comments, description_of, readme_table, variables_table

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def role_ids():
    return [role.name for role in ROLES]


def test_there_are_roles():
    assert ROLES, "no roles found under roles/"


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_defaults_and_argument_specs_name_the_same_variables(role):
    defaults = set(load(role / "defaults" / "main.yml"))
    specs = set(load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"])
    assert defaults - specs == set(), "in defaults/main.yml but not in meta/argument_specs.yml"
    assert specs - defaults == set(), "in meta/argument_specs.yml but not in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_every_option_is_typed_and_described(role):
    options = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, spec in options.items():
        assert spec.get("type"), f"{name} has no type"
        assert spec.get("description"), f"{name} has no description"


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_variables_carry_the_role_prefix(role):
    public = load(role / "defaults" / "main.yml")
    assert [k for k in public if not k.startswith(f"{role.name}_")] == []
    private_file = role / "vars" / "main.yml"
    if private_file.exists():
        assert [k for k in load(private_file) if not k.startswith(f"__{role.name}_")] == []


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_every_default_has_a_comment_line(role):
    lines = (role / "defaults" / "main.yml").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+:", line):
            assert number > 0 and lines[number - 1].startswith("# "), f"no comment above: {line}"


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_roles_do_not_depend_on_each_other(role):
    assert load(role / "meta" / "main.yml").get("dependencies") == []


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_main_tasks_import_tagged_task_files(role):
    for entry in load(role / "tasks" / "main.yml"):
        assert "ansible.builtin.import_tasks" in entry, entry.get("name")
        assert role.name in entry.get("tags", []), entry.get("name")
        assert (role / "tasks" / entry["ansible.builtin.import_tasks"]).exists()
        # A part that one variable alone turns off is tagged with that variable's name, so --tags and the toggle
        # agree.
        toggle = re.fullmatch(r"(\w+) \| (bool|length > 0)", str(entry.get("when", "")))
        if toggle:
            assert toggle.group(1) in entry["tags"], entry.get("name")


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_templates_start_with_ansible_managed(role):
    for template in (role / "templates").rglob("*.j2"):
        lines = template.read_text(encoding="utf-8").splitlines()
        # A script keeps its #! line first; the mark comes right after it.
        first = lines[1] if lines[0].startswith("#!") else lines[0]
        assert first.startswith("{{ ansible_managed | comment"), template


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_readme_documents_every_variable(role):
    readme = (role / "README.md").read_text(encoding="utf-8")
    options = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    missing = [name for name in options if f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_readme_variables_table_is_the_one_made_from_the_argument_specs(role):
    # Mend a drift with: tests/harness/role_contract.py roles/ROLE write
    readme = (role / "README.md").read_text(encoding="utf-8")
    assert readme_table(readme) == variables_table(role)


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_defaults_comments_are_the_argument_specs_descriptions(role):
    # Mend a drift with: tests/harness/role_contract.py roles/ROLE comments
    options = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    lines, found = defaults_comments(role)
    drifted = [name for name, (first, number) in found.items()
               if lines[first:number] != comment_lines(description_of(options[name]))]
    assert drifted == []
