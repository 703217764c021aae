"""The command line without Julia: channel listings go through the trust
core when the site trusts keys and say so when they cannot, and the parser
registers every command one way."""

import json
from datetime import timedelta

import pytest

from depotdelivery import channels, signing
from depotdelivery.cli import UNVERIFIED, _parser, main
from depotdelivery.config import render_site_config

IMAGES = ["a" * 64, "b" * 64, "c" * 64]


@pytest.fixture
def store(tmp_path):
    """A store with channel `stable` at versions 1-3 (version 2 signed by a
    key the site does not trust) and `old`, expired; no images needed."""
    root = tmp_path / "store"
    root.mkdir()
    ci, _ = signing.write_keypair(str(tmp_path / "keys" / "ci"))
    other, _ = signing.write_keypair(str(tmp_path / "keys" / "other"))
    for image, key in zip(IMAGES, (ci, other, ci), strict=True):
        rec = channels.new_record(str(root), "stable", image, ("x86-64",), expires_in=timedelta(days=1))
        channels.write_record(str(root), rec, signing.load_secret(key))
    rec = channels.new_record(str(root), "old", IMAGES[0], ("x86-64",), expires_in=timedelta(seconds=-60))
    channels.write_record(str(root), rec, signing.load_secret(ci))
    return root


def site(tmp_path, monkeypatch, *keys):
    config = tmp_path / "site.toml"
    config.write_text(render_site_config(stores=[], trusted_keys=[str(tmp_path / "keys" / k) for k in keys]))
    monkeypatch.setenv("DEPOTDELIVERY_CONFIG", str(config))
    return str(config)


def cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ls_verifies_channel_records_with_the_sites_keys(store, tmp_path, monkeypatch, capsys):
    config = site(tmp_path, monkeypatch, "ci.pub")
    code, out, _ = cli(capsys, "ls", "--store", str(store), "--json")
    listing = json.loads(out)
    assert code == 0 and listing["channels_checked"] == f"signatures checked with the trusted keys of {config}"
    assert listing["channels"]["stable"]["image"] == IMAGES[2] and listing["channels"]["stable"]["verified"]
    code, out, _ = cli(capsys, "ls", "--store", str(store))
    assert f"channels (signatures checked with the trusted keys of {config}):" in out
    assert "old          version 1    published" in out and "(EXPIRED)" in out


def test_a_record_the_site_does_not_trust_is_shown_as_invalid_not_as_its_claim(store, tmp_path, monkeypatch,
                                                                                capsys):
    site(tmp_path, monkeypatch, "other.pub")
    code, out, _ = cli(capsys, "ls", "--store", str(store), "--json")
    stable = json.loads(out)["channels"]["stable"]
    assert code == 0 and not stable["verified"] and "image" not in stable
    assert "not signed by a key this site trusts" in stable["error"]
    code, out, _ = cli(capsys, "ls", "--store", str(store))
    assert "INVALID: channel stable version 3" in out and IMAGES[2][:12] not in out


def test_history_verifies_each_version(store, tmp_path, monkeypatch, capsys):
    site(tmp_path, monkeypatch, "ci.pub")
    code, out, _ = cli(capsys, "channel", "history", "stable", "--store", str(store), "--json")
    hist = json.loads(out)
    assert code == 0 and [h["verified"] for h in hist] == [True, False, True]
    assert [h.get("image") for h in hist] == [IMAGES[0], None, IMAGES[2]]
    code, out, _ = cli(capsys, "channel", "history", "stable", "--store", str(store))
    assert "  v2    INVALID: channel stable version 2" in out and IMAGES[1][:12] not in out


def test_without_trusted_keys_listings_say_they_are_unverified(store, tmp_path, monkeypatch, capsys):
    site(tmp_path, monkeypatch)
    code, out, _ = cli(capsys, "ls", "--store", str(store), "--json")
    listing = json.loads(out)
    assert code == 0 and listing["channels_checked"] == UNVERIFIED
    assert listing["channels"]["stable"] == {"version": 3, "image": IMAGES[2], "published": listing["channels"]
                                             ["stable"]["published"], "expires": listing["channels"]["stable"]
                                             ["expires"], "verified": False}
    code, out, _ = cli(capsys, "ls", "--store", str(store))
    assert f"channels ({UNVERIFIED}):" in out
    code, out, _ = cli(capsys, "channel", "history", "stable", "--store", str(store))
    assert code == 0 and f"(newest last; {UNVERIFIED})" in out
    assert [l.split()[0] for l in out.splitlines()[1:]] == ["v1", "v2", "v3"] and "INVALID" not in out


def test_history_of_an_unknown_or_badly_named_channel_is_a_usage_error(store, tmp_path, monkeypatch, capsys):
    site(tmp_path, monkeypatch, "ci.pub")
    assert cli(capsys, "channel", "history", "nope", "--store", str(store))[0] == 64
    assert cli(capsys, "channel", "history", "../stable", "--store", str(store))[0] == 64


# -- the parser -------------------------------------------------------------------
def test_every_command_is_registered_with_a_handler_and_an_example():
    registered = {}
    _parser(registered)
    assert {"keygen", "build", "publish", "ls", "channel", "channel show", "channel history", "channel set",
            "run", "detect", "verify", "gc", "registry", "registry create", "slurm-index", "status",
            "condor-channels", "condor-startd-cron", "fingerprint", "validate", "coverage"} == set(registered)
    for name, sp in registered.items():
        if name in ("channel", "registry", "run"):  # groups; `run` is dispatched before argparse
            assert sp.get_default("func") is None
            continue
        assert sp.get_default("func") and "example" in sp.epilog, name


def test_status_needs_a_batch_system(capsys):
    args = _parser().parse_args(["status", "--slurm", "--store", "/s", "--json", "--index", "/i"])
    assert (args.slurm, args.store, args.json, args.index) == (True, "/s", True, "/i")
    code, _, err = cli(capsys, "status")
    assert code == 64 and "--slurm" in err
