"""Which image a job asked for, wherever the batch system put it.

The rule lives in fastpath.job_ref (the fast path needs it without imports);
this is the typed face of it for the rest of the wrapper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .fastpath import job_ref


@dataclass(frozen=True)
class JobRef:
    channel: str = ""
    image: str = ""


def from_environment(channel: str = "", image: str = "",
                     environ: Mapping[str, str] = os.environ) -> JobRef:
    ch, im = job_ref(channel, image, environ)
    return JobRef(channel=ch, image=im)
