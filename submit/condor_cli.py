"""HTCondor commands of the `depotdelivery` CLI (see depotdelivery/cli.py).

    depotdelivery condor-channels --store S --out /etc/condor/config.d/51-depotdelivery-channels.conf --reconfig
    depotdelivery condor-startd-cron          # STARTD_CRON job: prints the slot attributes
    depotdelivery status --condor [--pool HOST[:PORT]] [--json]

The first two talk to HTCondor only through files and the `condor_reconfig`
tool: the access point that needs the table has the tools by definition, and
the startd cron runs on every execute node, where importing the HTCondor
Python bindings would cost more than the whole job wrapper (see
site-configs/htcondor/README.md).  `status --condor` reads ads through the
bindings (the `htcondor` extra) where installed, else through the tools.
"""

from __future__ import annotations

EPILOG = {
    "condor-channels": (
        "example (on the access point, after every publish or channel change):\n"
        "  depotdelivery condor-channels --store /cvmfs/julia.example.org/depots \\\n"
        "      --out /etc/condor/config.d/51-depotdelivery-channels.conf --reconfig\n"
        "trusted keys come from the site config (DEPOTDELIVERY_CONFIG) or --trusted-key."),
    "condor-startd-cron": (
        "example (what the STARTD_CRON job in 50-depotdelivery.conf runs):\n"
        "  depotdelivery condor-startd-cron\n"
        "  DEPOTDELIVERY_CPUINFO=recorded.txt depotdelivery condor-startd-cron   # replay a CPU"),
    "status": (
        "examples (HTCondor):\n"
        "  depotdelivery status --condor                        # the collector CONDOR_CONFIG names\n"
        "  depotdelivery status --condor --pool cm.example.org:9618 --json\n"
        "--condor reads the startd ads (DepotDeliveryLevel, ...Stores, ...Images) and the\n"
        "queued jobs' JuliaImage/JuliaImageId through the htcondor2 bindings (pip install\n"
        "'depotdelivery[htcondor]'), else through condor_status and condor_q\n"
        "(DEPOTDELIVERY_CONDOR_NO_BINDINGS=1 forces the tools)."),
}


def add_commands(commands) -> None:
    """Register on the CLI's `Commands` (depotdelivery/cli.py)."""
    sp = commands.add("condor-channels", _channels,
                      "write HTCondor's channel table (channel -> image id, level, store)", EPILOG["condor-channels"])
    sp.add_argument("--store", required=True, help="the store, as this machine reads it")
    sp.add_argument("--out", default="-", help="config file to write atomically ('-': print)")
    sp.add_argument("--trusted-key", action="append", default=[],
                    help="publisher .pub file (repeatable; default: the site config's trusted_keys)")
    sp.add_argument("--reconfig", action="store_true", help="run condor_reconfig after writing")

    sp = commands.add("condor-startd-cron", _startd_cron,
                      "print this node's depotdelivery slot attributes (STARTD_CRON)", EPILOG["condor-startd-cron"])
    sp.add_argument("--cpuinfo", default="", help="replay a recorded /proc/cpuinfo")



def status_condor(args) -> int:
    import json
    import sys

    from . import condor_status
    pool = condor_status.check_pool(args.pool) if args.pool else ""
    st, note = condor_status.query(pool)
    if note:
        print(f"depotdelivery: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(condor_status.to_json(st), indent=2, sort_keys=True))
    else:
        print(condor_status.render(st))
    return 0


def _channels(args) -> int:
    import sys

    from depotdelivery.config import load_config
    from depotdelivery.stores import readable_root
    from depotdelivery.wrapper.verify import trusted_keys

    from .condor_channels import render, table_entries, write_table
    cfg = load_config()
    keys = trusted_keys(tuple(args.trusted_key) or cfg.trusted_keys, cfg.revoked_keys,
                        where="--trusted-key" if args.trusted_key else cfg.path)
    root = readable_root(args.store)
    entries = table_entries(root, keys)
    text = render(entries, source=root)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        write_table(args.out, text)
        usable = sum(e.usable for e in entries)
        print(f"wrote {args.out}: {usable} usable reference(s), {len(entries) - usable} refused")
        for e in entries:
            if not e.usable:
                print(f"  refused {e.ref}: {e.refused}", file=sys.stderr)
    if args.reconfig:
        _reconfig()
    return 0


def _reconfig() -> None:
    import subprocess

    from depotdelivery.errors import ConfigError
    try:
        p = subprocess.run(["condor_reconfig"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"condor_reconfig failed ({e}); run it by hand") from None
    if p.returncode != 0:
        raise ConfigError(f"condor_reconfig failed: {(p.stderr or p.stdout).strip()[:300]}")


def _startd_cron(args) -> int:
    """Never fails the cron job: a broken site config is advertised as
    DepotDeliveryError with no stores, so nothing is matched to this node."""
    from depotdelivery.config import load_config
    from depotdelivery.detect import detect
    from depotdelivery.errors import DepotDeliveryError

    from .condor_channels import quote
    from .condor_node import slot_ad
    try:
        cfg = load_config()
        lines = slot_ad(cfg, detect(cpuinfo=args.cpuinfo or None, cap=cfg.max_level))
    except DepotDeliveryError as e:
        lines = [f"DepotDeliveryStores = {quote('')}", f"DepotDeliveryError = {quote(e.message)}"]
    print("\n".join(lines))
    print("- update:true")
    return 0
