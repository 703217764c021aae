"""Which image a job asked for, wherever the batch system put it.

Precedence: the command line; the pinned id the submit side recorded
(``DEPOTDELIVERY_IMAGE_ID`` exported by the Slurm TaskProlog, or
``JuliaImageId`` in HTCondor's ``_CONDOR_JOB_AD``); then a channel named in
``DEPOTDELIVERY_CHANNEL``.  A pinned id always wins over a channel, so a job
runs what was resolved at submit time even if the channel moved since.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class JobRef:
    channel: str = ""
    image: str = ""


def from_environment(channel: str = "", image: str = "",
                     environ: Mapping[str, str] = os.environ) -> JobRef:
    if channel or image:
        return JobRef(channel=channel, image=image)
    pinned = environ.get("DEPOTDELIVERY_PIN", "")
    if pinned:
        return JobRef(image=pinned)
    ad = environ.get("_CONDOR_JOB_AD")
    if ad:
        from depotdelivery.submit.classad import read_job_ad_pin
        pin = read_job_ad_pin(ad)
        if pin:
            return JobRef(image=pin)
    return JobRef(channel=environ.get("DEPOTDELIVERY_CHANNEL", ""))
