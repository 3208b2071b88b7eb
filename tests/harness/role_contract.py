#!/usr/bin/env python3
"""Draft a role's contract from its defaults: tests/harness/role_contract.py ROLE [specs|table]

`specs` prints the options of meta/argument_specs.yml (type guessed from the default, description from the
comment line above each variable); `table` prints the README's variables table from meta/argument_specs.yml.
A maintainer's tool: the unit tests check that the three stay in step, whoever wrote them.
"""

import json
import sys
from pathlib import Path

import yaml


def guess_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "str"


class IndentedDumper(yaml.SafeDumper):
    """Indent list items under their key, as yamllint's default asks."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def specs(role):
    lines = (role / "defaults" / "main.yml").read_text().splitlines()
    values = yaml.safe_load("\n".join(lines)) or {}
    comments, comment = {}, ""
    for line in lines:
        if line.startswith("# "):
            comment = line[2:]
        elif line and not line.startswith((" ", "-")) and ":" in line:
            comments[line.split(":", 1)[0]] = comment
    options = {}
    for name, value in values.items():
        option = {"type": guess_type(value), "description": comments.get(name, "")}
        if isinstance(value, list):
            option["elements"] = guess_type(value[0]) if value else "str"
        option["default"] = value
        options[name] = option
    print(yaml.dump({"options": options}, Dumper=IndentedDumper, sort_keys=False, width=110))


def table(role):
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    print("| Variable | Default | Description |\n| --- | --- | --- |")
    for name, option in options.items():
        default = option.get("default")
        shown = json.dumps(default) if not isinstance(default, str) else (default or '""')
        description = option.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        shown = shown.replace("|", "\\|")
        print(f"| `{name}` | `{shown}` | {description.replace('|', chr(92) + '|')} |")


if __name__ == "__main__":
    role = Path(sys.argv[1])
    {"specs": specs, "table": table}[sys.argv[2] if len(sys.argv) > 2 else "specs"](role)
