"""depotdelivery: signed, CPU-specific Julia images for batch clusters.

The core package holds the data model every part shares (levels, image
manifests, channel records, signatures, stores, site configuration).  The
build, submit and wrapper parts live in the repository's `build/`, `submit/`
and `wrapper/` folders and are installed as `depotdelivery.builder`,
`depotdelivery.submit` and `depotdelivery.wrapper`.
"""

__version__ = "0.1.0"
