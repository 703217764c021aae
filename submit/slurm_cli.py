"""Slurm commands of the `depotdelivery` CLI (registered through cli.Commands):

    depotdelivery slurm-index --store S --out /etc/slurm/depotdelivery-index.txt
    depotdelivery status --slurm [--store S | --index FILE] [--json]
"""

from __future__ import annotations

import json
import os
import sys

EPILOG_INDEX = """\
Run after every publish or `channel set` (or every minute from cron on the
Slurm controller): it verifies the store's channels and image manifests with
the site's trusted keys and rewrites the index job_submit.lua reads, atomically
and only when it changed.

example:
  depotdelivery slurm-index --store /cvmfs/julia.example.org/depots \\
      --out /etc/slurm/depotdelivery-index.txt"""

EPILOG_STATUS = """\
examples:
  depotdelivery status --slurm                      # images from the site's store
  depotdelivery status --slurm --index /etc/slurm/depotdelivery-index.txt --json"""


def add_commands(commands) -> None:
    """Register on the CLI's `Commands` (depotdelivery/cli.py)."""
    sp = commands.add("slurm-index", _slurm_index, "write the channel/image index Slurm's job_submit.lua reads",
                      EPILOG_INDEX)
    sp.add_argument("--store", default="", help="store to index (default: the site config's first)")
    sp.add_argument("--out", required=True, help="index file, beside job_submit.lua")
    sp.add_argument("--key", action="append", default=[],
                    help="trusted public key (repeatable; default: the site config's trusted_keys)")
    sp.add_argument("--json", action="store_true")




def _keys(paths: list[str]):
    from depotdelivery.config import load_config
    from depotdelivery.wrapper.verify import trusted_keys
    # Revocation is the site's word, also for keys named on the command line.
    cfg = load_config()
    return trusted_keys(tuple(paths) or cfg.trusted_keys, cfg.revoked_keys,
                        where="--key" if paths else cfg.path)


def _store_root(store: str) -> str:
    from depotdelivery.config import load_config
    from depotdelivery.stores import readable_root
    return os.path.realpath(readable_root(store or load_config().default_store()))


def _slurm_index(args) -> int:
    from . import slurm_index
    root = _store_root(args.store)
    idx = slurm_index.build_index(root, _keys(args.key))
    changed = slurm_index.write(os.path.abspath(args.out), slurm_index.render(idx, source=root))
    for ref, why in sorted(idx.broken.items()):
        print(f"depotdelivery: warning: {ref[:12]} left out of the index: {why}", file=sys.stderr)
    obj = {"out": os.path.abspath(args.out), "changed": changed, "store": root,
           "channels": {c.name: {"image": c.image_id, "levels": list(c.levels)}
                        for c in idx.channels.values()},
           "images": len(idx.images), "broken": idx.broken}
    if args.json:
        print(json.dumps(obj, indent=2, sort_keys=True))
    else:
        chans = ", ".join(f"{c.name} -> {c.image_id[:12]} ({','.join(c.levels)})"
                          for c in sorted(idx.channels.values(), key=lambda c: c.name)) or "none"
        print(f"{'wrote' if changed else 'unchanged'} {args.out}: channels {chans}; "
              f"{len(idx.images)} image(s), {len(idx.broken)} left out")
    return 0


def status_slurm(args) -> int:
    from . import slurm_index, slurm_status
    if args.index:
        idx = slurm_index.read(args.index)
    else:
        idx = slurm_index.build_index(_store_root(args.store), _keys([]))
    node_views = slurm_status.nodes(slurm_status.slurm_json(["sinfo", "--json"]))
    job_views = slurm_status.jobs(slurm_status.slurm_json(["squeue", "--json"]))
    if args.json:
        print(json.dumps(slurm_status.to_json(idx, node_views, job_views), indent=2, sort_keys=True))
    else:
        print(slurm_status.render(idx, node_views, job_views))
    return 0
