"""The site configuration's built-in defaults, in a module that imports
nothing: the job wrapper's fast path (wrapper/fastpath.py) must find the
config file and the node-local cache without loading the config parser, and
depotdelivery/config.py applies the same values."""

DEFAULT_CONFIG = "/etc/depotdelivery/site.toml"
DEFAULT_CACHE_DIR = "/var/cache/depotdelivery"
