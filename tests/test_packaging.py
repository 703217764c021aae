"""One list of dependencies: setup.cfg names them (install_requires, the
test, check, bench and htcondor extras), constraints.txt pins the versions tested, and the
venv `make` builds holds exactly those versions."""

import configparser
import os
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def requirements():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(REPO, "setup.cfg"))
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in ("test", "check", "bench", "htcondor"):
        lines += cfg["options.extras_require"][extra].split(";")
    return [Requirement(l.strip()) for l in lines if l.strip()]


def pins():
    out = {}
    with open(os.path.join(REPO, "constraints.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, version = line.partition("==")
                assert version, f"constraints.txt: {line!r} is not NAME==VERSION"
                out[canonicalize_name(name)] = version
    return out


def test_every_dependency_is_pinned_at_a_version_it_allows():
    pinned = pins()
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} (setup.cfg) has no tested version in constraints.txt"
        assert req.specifier.contains(pinned[name]), f"{req.name}=={pinned[name]} is outside setup.cfg's {req}"


def test_the_venv_holds_the_tested_versions():
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {n: (v, installed.get(n)) for n, v in pins().items() if installed.get(n) != v}
    assert not wrong, f"pinned vs installed: {wrong}; run make install"
