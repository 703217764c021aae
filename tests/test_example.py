"""The example projects stay consistent: each Manifest pins exactly the
package sources in the repository (an edit without re-resolving would make
every build fail at Pkg.instantiate)."""

import os
import tomllib

import pytest

from conftest import EXAMPLE
from depotdelivery.builder.registry import tree_sha1

EXAMPLES = os.path.dirname(EXAMPLE)
# project -> the package folders its Manifest draws on
PROJECTS = {"hep-analysis": ["hep-analysis"], "heavy-analysis": ["hep-analysis", "heavy-analysis"]}
CASES = [(project, os.path.join(EXAMPLES, src, "packages", name))
         for project, sources in PROJECTS.items() for src in sources
         for name in sorted(os.listdir(os.path.join(EXAMPLES, src, "packages")))]


@pytest.mark.parametrize("project,package_dir", CASES, ids=[f"{p}:{os.path.basename(d)}" for p, d in CASES])
def test_manifest_pins_the_package_sources(project, package_dir):
    name = os.path.basename(package_dir)
    with open(os.path.join(EXAMPLES, project, "Manifest.toml"), "rb") as f:
        entry = tomllib.load(f)[name][0]
    assert entry["git-tree-sha1"] == tree_sha1(package_dir), (
        f"{name} changed: regenerate examples/{project}/Manifest.toml (see its README)")
