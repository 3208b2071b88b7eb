#!/usr/bin/env python3
"""Draft a role's contract from its defaults: tests/harness/role_contract.py ROLE [specs|table|write|comments]

`specs` prints the options of meta/argument_specs.yml (type guessed from the default, description from the
comment line above each variable); `table` prints the README's variables table from meta/argument_specs.yml, and
`write` puts it into the role's README between the markers; `comments` writes each description over the comment
above its variable in defaults/main.yml. A maintainer's tool: the unit tests check that the three stay in step,
whoever wrote them.
"""

import json
import re
import sys
import textwrap
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


BEGIN = "<!-- variables: made from meta/argument_specs.yml by tests/harness/role_contract.py ROLE write -->"
END = "<!-- end of variables -->"
# ansible-doc's markup, as Markdown: C(code), O(option), V(value), I(italic), B(bold), U(url).
MARKUP = [(re.compile(r"\b[COV]\(([^)]*)\)"), r"`\1`"), (re.compile(r"\bI\(([^)]*)\)"), r"*\1*"),
          (re.compile(r"\bB\(([^)]*)\)"), r"**\1**"), (re.compile(r"\bU\(([^)]*)\)"), r"\1")]


def spec_options(role):
    return yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def markdown(text):
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text


def cell(text):
    return text.replace("|", "\\|")


def variables_table(role):
    """The README's variables table, from the role's meta/argument_specs.yml, between its markers."""
    options = spec_options(role)
    rows = [BEGIN, "| Variable | Default | Description |", "| --- | --- | --- |"]
    for name, option in options.items():
        default = option.get("default")
        shown = json.dumps(default) if not isinstance(default, str) else (default or '""')
        # A default folded over lines in YAML is one line in the table.
        rows.append(f"| `{name}` | `{cell(' '.join(shown.split()))}` | {cell(description_of(option))} |")
    return "\n".join(rows + [END])


def readme_table(text):
    """The marked table of a README's text, or None."""
    if BEGIN not in text:
        return None
    start = text.index(BEGIN)
    return text[start:text.index(END, start) + len(END)]


def description_of(option):
    text = option.get("description", "")
    return markdown(" ".join(text) if isinstance(text, list) else text)


def comment_lines(description):
    """The comment above a variable in defaults/main.yml: its spec's description, wrapped."""
    return textwrap.wrap(description, 118, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)


def defaults_comments(role):
    """Each variable of defaults/main.yml with the comment lines right above it."""
    lines = (role / "defaults" / "main.yml").read_text().splitlines()
    found = {}
    for number, line in enumerate(lines):
        if line and not line.startswith((" ", "-", "#")) and ":" in line:
            first = number
            while first > 0 and lines[first - 1].startswith("# "):
                first -= 1
            found[line.split(":", 1)[0]] = (first, number)
    return lines, found


def comments(role):
    """Rewrite the comment above each variable of defaults/main.yml from its spec's description."""
    options = spec_options(role)
    lines, found = defaults_comments(role)
    for name, (first, number) in sorted(found.items(), key=lambda item: -item[1][0]):
        lines[first:number] = comment_lines(description_of(options[name]))
    (role / "defaults" / "main.yml").write_text("\n".join(lines) + "\n")


def table(role):
    print(variables_table(role))


def write(role):
    readme = role / "README.md"
    text = readme.read_text()
    old = readme_table(text)
    if old is None:
        # The first time: the hand-made table, from its header to the first empty line.
        lines = text.split("\n")
        first = lines.index("| Variable | Default | Description |")
        last = lines.index("", first)
        old = "\n".join(lines[first:last])
    readme.write_text(text.replace(old, variables_table(role), 1))


if __name__ == "__main__":
    commands = {"specs": specs, "table": table, "write": write, "comments": comments}
    commands[sys.argv[2] if len(sys.argv) > 2 else "specs"](Path(sys.argv[1]))
