"""The example project stays consistent: its Manifest pins exactly the
package sources in the repository (an edit without re-resolving would make
every build fail at Pkg.instantiate)."""

import os
import tomllib

import pytest

from conftest import EXAMPLE
from depotdelivery.builder.registry import tree_sha1


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(EXAMPLE, "packages"))))
def test_manifest_pins_the_package_sources(name):
    with open(os.path.join(EXAMPLE, "Manifest.toml"), "rb") as f:
        entry = tomllib.load(f)[name][0]
    assert entry["git-tree-sha1"] == tree_sha1(os.path.join(EXAMPLE, "packages", name)), (
        f"{name} changed: regenerate examples/hep-analysis/Manifest.toml (see its README)")
