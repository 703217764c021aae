"""The site configuration: one TOML file an admin edits.

`/etc/depotdelivery/site.toml` by default, `DEPOTDELIVERY_CONFIG` to point
elsewhere.  The commented example is site-configs/site.toml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .defaults import DEFAULT_CACHE_DIR, DEFAULT_CONFIG
from .errors import ConfigError
from .levels import Level, parse_level

_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class SiteConfig:
    path: str
    stores: tuple[str, ...] = ()
    trusted_keys: tuple[str, ...] = ()  # paths of .pub files
    revoked_keys: frozenset[str] = frozenset()  # key ids refused even if listed
    julia: str = "julia"  # what jobs run: [julia] executable, else julia on PATH
    julia_executable: str = ""  # [julia] executable as written ("" = not set)
    julia_env: Mapping[str, str] = field(default_factory=dict)
    max_level: Level | None = None
    cache_dir: str = DEFAULT_CACHE_DIR
    cache_max_age_days: int = 14
    cache_max_bytes: int = 20 << 30
    default_channel: str = ""

    def default_store(self) -> str:
        if not self.stores:
            raise ConfigError(f"{self.path}: no store configured and none given; "
                              "set stores = [\"/cvmfs/...\"] or pass --store")
        return self.stores[0]


def config_path(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("DEPOTDELIVERY_CONFIG") or DEFAULT_CONFIG


def parse_size(text: str | int) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    t = str(text).strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _SIZE_UNITS else ""
    try:
        return int(float(t[: len(t) - len(unit)]) * _SIZE_UNITS[unit])
    except ValueError:
        raise ValueError(f"bad size {text!r} (e.g. 20G)") from None


def parse_config(text: str, path: str) -> SiteConfig:
    import tomllib
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix the file") from None
    known = {"stores", "trusted_keys", "revoked_keys", "julia", "max_level",
             "cache_dir", "cache_max_age_days", "cache_max_bytes", "default_channel"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; "
                          "see site-configs/site.toml")
    try:
        julia = raw.get("julia", {})
        if not isinstance(julia, dict):
            raise ValueError("[julia] must be a table")
        env = julia.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise ValueError("[julia.env] values must be strings")
        stores = _str_list(raw, "stores")
        keys = _str_list(raw, "trusted_keys")
        base = os.path.dirname(os.path.abspath(path))
        keys = [k if os.path.isabs(k) else os.path.join(base, k) for k in keys]
        max_level = raw.get("max_level")
        return SiteConfig(
            path=path,
            stores=tuple(stores),
            trusted_keys=tuple(keys),
            revoked_keys=frozenset(_str_list(raw, "revoked_keys")),
            julia=str(julia.get("executable", "julia")),
            julia_executable=str(julia.get("executable", "")),
            julia_env=dict(env),
            max_level=parse_level(max_level) if max_level else None,
            cache_dir=str(raw.get("cache_dir", DEFAULT_CACHE_DIR)),
            cache_max_age_days=int(raw.get("cache_max_age_days", 14)),
            cache_max_bytes=parse_size(raw.get("cache_max_bytes", 20 << 30)),
            default_channel=str(raw.get("default_channel", "")),
        )
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{path}: {e}; see site-configs/site.toml") from None
    except Exception as e:  # UsageError from parse_level
        if hasattr(e, "message"):
            raise ConfigError(f"{path}: {e.message}") from None
        raise


def _str_list(raw: Mapping, key: str) -> list[str]:
    v = raw.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"{key} must be a list of strings")
    return v


def load_config(path: str | None = None, *, required: bool = False) -> SiteConfig:
    """Read the site config; a missing default file gives built-in defaults
    (nothing trusted: verification then fails closed) unless `required`."""
    path = path or config_path()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        if required or "DEPOTDELIVERY_CONFIG" in os.environ:
            raise ConfigError(f"site config {path} not found; copy site-configs/site.toml "
                              "there or set DEPOTDELIVERY_CONFIG") from None
        return SiteConfig(path=path)
    except OSError as e:
        raise ConfigError(f"cannot read site config {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; fix the file") from None
    return parse_config(text, path)


def render_site_config(*, stores: Sequence[str], trusted_keys: Sequence[str], cache_dir: str = "",
                       max_level: str = "", revoked_keys: Sequence[str] = (), julia: str = "",
                       julia_env: Mapping[str, str] | None = None, default_channel: str = "") -> str:
    """The text of a site.toml with these settings (what the tests, `make
    demo` and `make bench` write).  Empty settings are left out (the built-in
    defaults apply).  cache_dir is a top-level line before any table, as the
    wrapper's fast path reads it (see site-configs/site.toml)."""
    def array(items: Sequence[str]) -> str:
        return "[" + ", ".join(_toml_string(i) for i in items) + "]"
    top = [("stores", array(stores)), ("trusted_keys", array(trusted_keys)),
           ("revoked_keys", revoked_keys and array(revoked_keys)),
           ("max_level", max_level and _toml_string(max_level)),
           ("cache_dir", cache_dir and _toml_string(cache_dir)),
           ("default_channel", default_channel and _toml_string(default_channel))]
    lines = [f"{key} = {value}" for key, value in top if value]
    if julia or julia_env:
        lines += ["", "[julia]"]
        if julia:
            lines.append(f"executable = {_toml_string(julia)}")
        if julia_env:
            lines += ["", "[julia.env]"]
            lines += [f"{_toml_string(k)} = {_toml_string(v)}" for k, v in julia_env.items()]
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'
