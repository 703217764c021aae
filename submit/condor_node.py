"""What an execute node advertises to HTCondor (a STARTD_CRON job's output).

    DepotDeliveryLevel = 3                 # the level jobs will run at (site cap applied)
    DepotDeliveryLevelName = "x86-64-v3"
    DepotDeliveryCpuLevel = 4              # what the CPU itself supports
    DepotDeliveryStores = "/cvmfs/..."     # configured stores this node can read
    DepotDeliveryImages = "<id>,<id>"      # channel images whose signed manifest verified here
                                           # and that have a variant this node runs

The access point's transform matches on the first and the fourth.  The ad is
advice for matchmaking only: the wrapper re-detects the CPU and verifies
every file before it runs anything, so a slot that advertises too much
still refuses (exit 75) instead of crashing the job.  Only manifests are
checked here (cheap); hashing every file is the wrapper's job.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from depotdelivery import channels
from depotdelivery.config import SiteConfig
from depotdelivery.detect import Detection
from depotdelivery.errors import DepotDeliveryError

from .condor_channels import quote


def readable_stores(cfg: SiteConfig) -> list[str]:
    from depotdelivery.stores import readable_root
    out = []
    for url in cfg.stores:
        try:
            root = readable_root(url)
        except DepotDeliveryError:
            continue
        if os.path.isdir(os.path.join(root, "images")):
            out.append(os.path.normpath(root))
    return out


def runnable_images(store_root: str, cfg: SiteConfig, det: Detection) -> list[str]:
    """Current channel images whose manifest verifies and that have a variant
    at or below this node's level."""
    from depotdelivery.wrapper.verify import read_manifest, trusted_keys
    keys = trusted_keys(cfg.trusted_keys, cfg.revoked_keys, where=cfg.path)
    now = datetime.now(timezone.utc)  # one reference time for every record
    found = []
    for name in channels.channel_names(store_root):
        try:
            rec, _ = channels.latest(store_root, name, keys, now=now)
            img = read_manifest(store_root, rec.image, keys)
        except DepotDeliveryError:
            continue
        if img.manifest.levels()[0] <= det.level and rec.image not in found:
            found.append(rec.image)
    return found


def slot_ad(cfg: SiteConfig, det: Detection) -> list[str]:
    """The lines of the cron job's output (without the closing '- update')."""
    lines = [f"DepotDeliveryLevel = {det.level.number}",
             f"DepotDeliveryLevelName = {quote(det.level.name)}",
             f"DepotDeliveryCpuLevel = {det.cpu_level.number}"]
    stores = readable_stores(cfg)
    images: list[str] = []
    errors: list[str] = []
    for root in stores:
        try:
            images += [i for i in runnable_images(root, cfg, det) if i not in images]
        except DepotDeliveryError as e:
            errors.append(e.message)
    if cfg.stores and not stores:
        errors.append(f"none of the configured stores is readable: {', '.join(cfg.stores)}")
    lines.append(f"DepotDeliveryStores = {quote(','.join(stores))}")
    lines.append(f"DepotDeliveryImages = {quote(','.join(images))}")
    if errors:
        lines.append(f"DepotDeliveryError = {quote('; '.join(errors))}")
    return lines
