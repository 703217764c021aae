"""Every error depotdelivery reports, and the exit code each one maps to.

Batch systems act on exit codes, so the codes are part of the interface
(documented in README.md, "Exit codes"):

* 64 usage: the command line or the job's request is wrong; fix and resubmit.
* 65 image invalid: tampered, truncated, untrusted, expired or rolled back
  image or channel.  HTCondor/Slurm should *hold* the job: retrying elsewhere
  cannot help.
* 69 unavailable: the store or a file cannot be reached right now.
* 75 run elsewhere: this node cannot run the image (CPU level, no variant).
* 78 configuration: the site configuration or a key file is wrong.
* 1  build or publish failed (a step named in the message).
* 3  `validate`: the A/B fingerprints differ (the differences are printed).

Each error carries one line for humans: what failed, and what to do.
"""

from __future__ import annotations

EX_USAGE = 64
EX_IMAGE_INVALID = 65
EX_UNAVAILABLE = 69
EX_RUN_ELSEWHERE = 75
EX_CONFIG = 78
EX_FAILED = 1
# `validate`: the node's fingerprint differs from the build's (not an error
# of depotdelivery's; its own code so scripts can tell it from a failure).
EX_AB_DIFFERENT = 3


class DepotDeliveryError(Exception):
    """Base class: a one-line, user-facing message plus an exit code."""

    exit_code = EX_FAILED
    kind = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(DepotDeliveryError):
    exit_code = EX_USAGE
    kind = "usage"


class ConfigError(DepotDeliveryError):
    exit_code = EX_CONFIG
    kind = "config"


class ImageInvalid(DepotDeliveryError):
    """The store served bad data: never retried, never executed."""

    exit_code = EX_IMAGE_INVALID
    kind = "image-invalid"


class StoreUnavailable(DepotDeliveryError):
    """Transport-level failure: the data could not be read (not proven bad)."""

    exit_code = EX_UNAVAILABLE
    kind = "unavailable"


class RunElsewhere(DepotDeliveryError):
    """This node cannot run the image; another node may."""

    exit_code = EX_RUN_ELSEWHERE
    kind = "run-elsewhere"


class BuildError(DepotDeliveryError):
    exit_code = EX_FAILED
    kind = "build"


class PublishError(DepotDeliveryError):
    exit_code = EX_FAILED
    kind = "publish"
