from apt_mirror import deb822_entries, one_line_entries, pick

DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
"""


def test_deb822_main_and_security():
    entries = list(deb822_entries(DEB822))
    assert pick(entries, "main") == "http://mirror.example/debian"
    assert pick(entries, "security") == "http://security.example/debian-security"


def test_deb822_skips_disabled_and_source_stanzas():
    uris = [uri for uri, _ in deb822_entries(DEB822)]
    assert "http://src.example/debian" not in uris
    assert "http://disabled.example/debian" not in uris


def test_one_line_format_with_options():
    text = (
        "# comment\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://one.example/debian/ bookworm main\n"
        "deb http://one.example/debian-security bookworm-security main\n"
        "deb https://packages.example/apt stable main\n"
    )
    entries = list(one_line_entries(text))
    assert pick(entries, "main") == "http://one.example/debian"
    assert pick(entries, "security") == "http://one.example/debian-security"


def test_no_debian_archive_gives_none():
    assert pick(one_line_entries("deb https://packages.example/apt stable main\n"), "main") is None
