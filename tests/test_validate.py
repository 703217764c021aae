"""A/B validation: a node's fingerprint of the image equals the one the
build recorded, and any difference is named exactly."""

import json
import os

import pytest

from conftest import DD, EXAMPLE, REPO
from depotdelivery.errors import EX_AB_DIFFERENT

pytestmark = pytest.mark.julia
WORKLOAD = os.path.join(EXAMPLE, "workload.jl")


def fingerprint(node, out, *extra, user="ddjob"):
    p = node.run(["fingerprint", "--image", node.image_id, "--out", out, *extra], cmd=DD, user=user, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


def validate(node, fp, *extra):
    return node.run(["validate", "--image", node.image_id, fp, *extra], cmd=DD, user=None)


@pytest.fixture
def outdir(workdir, request):
    d = os.path.join(workdir, f"fp-{request.node.name}")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    return d


def test_the_build_recorded_a_fingerprint_per_variant(hep_build):
    with open(os.path.join(hep_build, "manifest.json")) as f:
        m = json.load(f)
    assert {v["level"]: v.get("fingerprint") for v in m["variants"]} == {
        "x86-64": "fingerprints/x86-64.json", "x86-64-v3": "fingerprints/x86-64-v3.json"}


def test_a_node_runs_exactly_what_ci_built(node, outdir):
    fp = fingerprint(node, os.path.join(outdir, "node.json"), "--workload", WORKLOAD)
    p = validate(node, fp)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("identical:")


def test_two_processes_give_the_same_fingerprint(node, outdir):
    a = fingerprint(node, os.path.join(outdir, "a.json"), "--workload", WORKLOAD)
    b = fingerprint(node, os.path.join(outdir, "b.json"), "--workload", WORKLOAD)
    with open(a) as fa, open(b) as fb:
        assert fa.read() == fb.read()


def test_an_extra_package_is_named(node, outdir):
    extra = os.path.join(outdir, "extra.jl")
    with open(extra, "w") as f:
        f.write(f'include("{WORKLOAD}")\npush!(LOAD_PATH, "{REPO}/tests/fixtures/tiny/dev")\nusing Tiny\n')
    fp = fingerprint(node, os.path.join(outdir, "node.json"), "--workload", extra)
    p = validate(node, fp)
    assert p.returncode == EX_AB_DIFFERENT == 3
    assert "module Tiny: loaded on the node" in p.stdout
    assert "ji:compiled/v1.5/Tiny/" in p.stdout


def test_a_method_compiled_on_the_node_is_named(node, outdir):
    extra = os.path.join(outdir, "forced.jl")
    with open(extra, "w") as f:
        f.write(f'include("{WORKLOAD}")\nusing FourVectors\n'
                'FourVectors.FourVector{Float16}(1, 2, 3, 10) + FourVectors.FourVector{Float16}(1, 1, 1, 5)\n')
    fp = fingerprint(node, os.path.join(outdir, "node.json"), "--workload", extra)
    p = validate(node, fp)
    assert p.returncode == EX_AB_DIFFERENT == 3
    assert "compiled on the node, not in CI" in p.stdout and "Float16" in p.stdout
    assert "module" not in p.stdout.split("compiled on the node")[0].split("\n", 1)[-1]


def test_coverage_of_the_workload_is_zero_and_a_new_call_shows_up(node, outdir):
    p = node.run(["coverage", "--image", node.image_id, "--", "julia", WORKLOAD], cmd=DD, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "HepAnalysis: 150 events" in p.stdout
    assert p.stderr.startswith("0 method(s) compiled at run time"), p.stderr
    p = node.run(["coverage", "--image", node.image_id, "--", "julia", "-e",
                  "using FourVectors; FourVectors.FourVector{Float16}(1, 2, 3, 10)"], cmd=DD, timeout=300)
    assert p.returncode == 0
    assert "Float16" in p.stderr and not p.stderr.startswith("0 method")


def test_bad_fingerprints_are_one_line_errors(node, outdir):
    good = fingerprint(node, os.path.join(outdir, "node.json"))
    text = open(good).read()
    cases = {
        "truncated": text[: len(text) // 2],
        "edited": text.replace('"signatures": [', '"signatures": [\n    "Tuple{typeof(evil)}",', 1),
        "other-image": text.replace(node.image_id, "ab" * 32),
    }
    for name, body in cases.items():
        path = os.path.join(outdir, f"{name}.json")
        with open(path, "w") as f:
            f.write(body)
        p = validate(node, path)
        assert p.returncode == 64, (name, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1
    p = node.run(["fingerprint", "--image", "cd" * 32, "--out", os.path.join(outdir, "x.json")], cmd=DD)
    assert p.returncode == 64 and "not in store" in p.stderr


def test_a_fingerprint_with_odd_names_is_valid_json(node, outdir):
    """Module and method names may hold characters JSON must escape (an
    escape, DEL, quotes, backslashes): the fingerprint stays readable."""
    workload = os.path.join(outdir, "odd-names.jl")
    with open(workload, "w") as f:
        f.write('eval(Expr(:module, true, Symbol("Odd\\e\\x7f\\"\\\\"), quote\n'
                '    @eval $(Symbol("f\\e\\x7fg"))(x) = x + 1\n'
                '    @eval $(Symbol("f\\e\\x7fg"))(1)\n'
                'end))\n')
    os.chmod(workload, 0o644)
    out = fingerprint(node, os.path.join(outdir, "odd.json"), "--workload", workload)
    with open(out, "rb") as f:
        doc = json.loads(f.read())
    # Julia prints the module's name raw (escape, DEL, quote, backslash).
    assert any('Main.Odd\x1b\x7f"\\.' in s for s in doc["methods"]["signatures"])
    from depotdelivery.wrapper.validate import parse
    with open(out, "rb") as f:
        parse(f.read(), source=out)  # the digest over the decoded names still holds
