"""The `depotdelivery` command line.

`run` is dispatched before argparse is imported: it is the per-job path and
has a 20 ms budget (see wrapper/entry.py).  Every other command is a thin
layer over the library: parse, call, print (or --json), map errors to exit
codes (errors.py).
"""

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        from depotdelivery.wrapper.entry import main as run_main
        return run_main(argv[1:])
    from depotdelivery.cli_errors import report
    from depotdelivery.errors import DepotDeliveryError
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 64
    try:
        return args.func(args) or 0
    except DepotDeliveryError as e:
        return report(e)
    except KeyboardInterrupt:
        print("depotdelivery: interrupted; nothing half-written is visible", file=sys.stderr)
        return 130


# -- the parser: one small function per command ---------------------------------
class Commands:
    """The one way a command is registered, here and in the batch-system and
    validation modules (their `add_commands(commands)`): a name, its
    handler, a one-line help and an example (shown by `COMMAND --help`)."""

    def __init__(self, subparsers, registered: dict | None = None, prefix: str = ""):
        self._sub = subparsers
        self._registered = registered if registered is not None else {}
        self._prefix = prefix

    def add(self, name: str, func, help_: str, example: str = ""):
        """-> the command's argparse parser, for its arguments."""
        import argparse
        sp = self._sub.add_parser(name, help=help_, description=help_, epilog=example or None,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(func=func)
        self._registered[self._prefix + name] = sp
        return sp

    def group(self, name: str, help_: str, example: str = "") -> "Commands":
        """A command with actions (`channel show|history|set`): register them on the result."""
        sp = self.add(name, None, help_, example)
        return Commands(sp.add_subparsers(metavar="ACTION"), self._registered, f"{self._prefix}{name} ")


def _parser(registered: dict | None = None):
    """The CLI's parser; `registered` (if given) receives every command's
    parser by name ("channel show" for an action)."""
    import argparse
    import importlib

    class Parser(argparse.ArgumentParser):
        """A bad command line is one line and exit 64 (README "Exit codes"),
        not argparse's usage block and exit 2; subcommands inherit this."""

        def error(self, message: str):
            from depotdelivery.cli_errors import report
            from depotdelivery.errors import UsageError
            raise SystemExit(report(UsageError(f"{self.prog}: {message}; see `{self.prog} --help`")))

    p = Parser(
        prog="depotdelivery",
        description="Signed, CPU-specific Julia images for batch clusters.",
        epilog=("commands: keygen, build, publish, ls, channel, run, detect, verify, gc, registry\n"
                "`depotdelivery COMMAND --help` shows an example for each.\n"
                "exit codes: 0 ok, 1 build/publish failed, 3 A/B fingerprints differ, 64 usage,\n"
                "            65 image invalid (hold), 69 store unavailable, 75 run elsewhere, 78 configuration"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = Commands(p.add_subparsers(metavar="COMMAND"), registered)
    for add in (_add_keygen, _add_build, _add_publish, _add_ls, _add_channel, _add_run, _add_detect,
                _add_verify, _add_gc, _add_registry, _add_status):
        add(commands)
    # Batch-system and validation commands live beside their own code.
    for mod in ("depotdelivery.submit.slurm_cli", "depotdelivery.submit.condor_cli",
                "depotdelivery.wrapper.validate_cli"):
        importlib.import_module(mod).add_commands(commands)
    return p


def _add_status(commands: Commands) -> None:
    """One `status` command for every batch system; each one's reading and
    rendering lives beside its other code (submit/)."""
    from depotdelivery.submit.condor_cli import EPILOG as CONDOR_EPILOG
    from depotdelivery.submit.slurm_cli import EPILOG_STATUS
    sp = commands.add("status", _status, "show which nodes can run which published image",
                      EPILOG_STATUS + "\n" + CONDOR_EPILOG["status"])
    sp.add_argument("--slurm", action="store_true", help="from sinfo --json and squeue --json")
    sp.add_argument("--condor", action="store_true",
                    help="from the HTCondor collector's slot ads and the schedds' queues")
    sp.add_argument("--store", default="", help="with --slurm: store whose channels to show (default: the site's)")
    sp.add_argument("--index", default="", help="with --slurm: read channels from this slurm index instead")
    sp.add_argument("--pool", default="", metavar="HOST[:PORT]",
                    help="with --condor: the collector to ask (default: COLLECTOR_HOST from CONDOR_CONFIG)")
    sp.add_argument("--json", action="store_true")


def _status(args) -> int:
    from depotdelivery.errors import UsageError
    if args.condor:
        # Options of the other batch system would be ignored silently.
        other = [f for f, v in (("--slurm", args.slurm), ("--store", args.store), ("--index", args.index)) if v]
        if other:
            raise UsageError(f"{', '.join(other)} cannot go with --condor; status --condor reads the pool only")
        from depotdelivery.submit.condor_cli import status_condor
        return status_condor(args)
    if args.pool:
        raise UsageError("--pool goes with --condor: depotdelivery status --condor --pool HOST[:PORT]")
    if not args.slurm:
        raise UsageError("say which batch system to ask: depotdelivery status --slurm (or --condor)")
    from depotdelivery.submit.slurm_cli import status_slurm
    return status_slurm(args)


def _add_keygen(commands: Commands) -> None:
    sp = commands.add("keygen", _keygen, "make an Ed25519 signing key pair",
                      "example:\n  depotdelivery keygen keys/ci      # keys/ci.key (0600) + keys/ci.pub")
    sp.add_argument("prefix", help="writes PREFIX.key (0600) and PREFIX.pub")


def _add_build(commands: Commands) -> None:
    from depotdelivery.julia import JULIA_SEARCH
    sp = commands.add("build", _build, "build image variants from a Julia project", (
        "example:\n  depotdelivery build examples/hep-analysis --levels x86-64,x86-64-v3 \\\n"
        "      --workload examples/hep-analysis/workload.jl --out _build/hep \\\n"
        "      --registry file:///srv/registry/registry --store-path /cvmfs/julia.example.org/depots"))
    sp.add_argument("project", help="folder with Project.toml and Manifest.toml")
    sp.add_argument("--levels", default="x86-64,x86-64-v3", help="CPU levels, comma-separated")
    sp.add_argument("--workload", default="", help="a .jl file run to find what to precompile")
    sp.add_argument("--out", required=True, help="output folder (replaced only when the build succeeds)")
    sp.add_argument("--registry", action="append", default=[], help="registry URL (repeatable)")
    sp.add_argument("--store-path", default="", help="absolute path where nodes will see the store")
    sp.add_argument("--name", default="", help="image name (default: the project's)")
    sp.add_argument("--jobs", type=int, default=0, help="variants compiled at once (default: by cores/memory)")
    sp.add_argument("--no-lazy-artifacts", dest="lazy_artifacts", action="store_false",
                    help="leave lazy artifacts out of the image (smaller; a job that needs one then fails, "
                         "since nodes never download)")
    sp.add_argument("--stdlibs", choices=("needed", "all"), default="needed",
                    help="standard libraries in the images: only those the project and the workload "
                         "need (default; a slim base built from Julia's sources), or all of them "
                         "(over Julia's own image)")
    sp.add_argument("--keep-stdlib", action="append", default=[], metavar="NAME",
                    help="keep this standard library in a slim image too (repeatable, or comma-separated; "
                         "a project can list them in Project.toml: [depotdelivery] keep-stdlibs)")
    sp.add_argument("--multi-target", action="store_true",
                    help="one image for all --levels (a clone per level, as Julia's release binaries are "
                         "built) instead of one image per level; see the README for when it pays")
    sp.add_argument("--julia", default="", help=f"Julia to run; the first of: {JULIA_SEARCH}")
    sp.add_argument("--json", action="store_true")


def _add_publish(commands: Commands) -> None:
    sp = commands.add("publish", _publish, "sign a build and publish it to a store", (
        "example:\n  depotdelivery publish _build/hep --store /srv/depots --key keys/ci.key --channel stable"))
    sp.add_argument("build_dir")
    sp.add_argument("--store", required=True, help="PATH, dir://PATH or cvmfs://REPO/PATH")
    sp.add_argument("--key", required=True, help="secret key file (.key)")
    sp.add_argument("--channel", default="", help="also point this channel at the image")
    sp.add_argument("--expires", default="30d", help="channel record lifetime (e.g. 30d, 12h)")
    sp.add_argument("--json", action="store_true")


def _add_ls(commands: Commands) -> None:
    sp = commands.add("ls", _ls, "list images, variants, sizes and channels in a store",
                      "example:\n  depotdelivery ls --store /srv/depots")
    sp.add_argument("--store", required=True)
    sp.add_argument("--json", action="store_true")


CHANNEL_EXAMPLES = ("examples:\n  depotdelivery channel show stable --store /srv/depots\n"
                    "  depotdelivery channel set stable 3f2a9c01 --store /srv/depots --key keys/ci.key\n"
                    "  depotdelivery channel history stable --store /srv/depots")


def _add_channel(commands: Commands) -> None:
    actions = commands.group("channel", "show, set or list the history of a channel", CHANNEL_EXAMPLES)
    for name, func, help_ in (("show", _channel_show, "show a channel's newest record, verified"),
                              ("history", _channel_history, "list every version of a channel")):
        sp = actions.add(name, func, help_, CHANNEL_EXAMPLES)
        sp.add_argument("name")
        sp.add_argument("--store", required=True)
        sp.add_argument("--json", action="store_true")
    sp = actions.add("set", _channel_set, "point a channel at a published image (also: rollback)", CHANNEL_EXAMPLES)
    sp.add_argument("name")
    sp.add_argument("image")
    sp.add_argument("--store", required=True)
    sp.add_argument("--key", required=True)
    sp.add_argument("--expires", default="30d")
    sp.add_argument("--json", action="store_true")


def _add_run(commands: Commands) -> None:
    # Listed for --help only: main() hands `run` to wrapper/entry.py before argparse.
    commands.add("run", None, "verify an image and exec a job with it (see `depotdelivery run --help`)")


def _add_detect(commands: Commands) -> None:
    sp = commands.add("detect", _detect, "print this node's x86-64 level", (
        "examples:\n  depotdelivery detect                  # x86-64-v3\n"
        "  depotdelivery detect --format slurm     # x86-64,x86-64-v2,x86-64-v3\n"
        "  depotdelivery detect --cpuinfo tests/cpuinfo/intel-haswell.x86-64-v3.txt --json"))
    sp.add_argument("--cpuinfo", default="", help="replay a recorded /proc/cpuinfo")
    sp.add_argument("--format", choices=("level", "slurm", "condor"), default="level")
    sp.add_argument("--json", action="store_true")


def _add_verify(commands: Commands) -> None:
    sp = commands.add("verify", _verify, "verify an image as the wrapper would, without running it",
                      "example:\n  depotdelivery verify --store /cvmfs/julia.example.org/depots --channel stable")
    sp.add_argument("--store", default="")
    sp.add_argument("--channel", default="")
    sp.add_argument("--image", default="")
    sp.add_argument("--cpuinfo", default="")
    sp.add_argument("--json", action="store_true")


def _add_gc(commands: Commands) -> None:
    sp = commands.add("gc", _gc, "clean this user's node-local depots by age and size",
                      "example:\n  depotdelivery gc --max-age-days 7 --max-size 10G")
    sp.add_argument("--max-age-days", type=int, default=None)
    sp.add_argument("--max-size", default=None)


def _add_registry(commands: Commands) -> None:
    example = "example:\n  depotdelivery registry create examples/hep-analysis/packages/* --out /srv/registry"
    actions = commands.group("registry", "make a local Julia registry from package folders", example)
    sp = actions.add("create", _registry_create, "make a registry of these package folders", example)
    sp.add_argument("packages", nargs="+", help="package folders (each with a Project.toml)")
    sp.add_argument("--out", required=True)
    sp.add_argument("--name", default="LocalRegistry")


# -- helpers -------------------------------------------------------------------
def _duration(text: str):
    from datetime import timedelta

    from depotdelivery.errors import UsageError
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    t = text.strip().lower()
    try:
        return timedelta(seconds=int(t[:-1]) * units[t[-1]])
    except (KeyError, ValueError, IndexError):
        raise UsageError(f"bad duration {text!r}: use e.g. 30d, 12h, 90m") from None


def _emit(args, obj, text: str) -> None:
    import json
    if getattr(args, "json", False):
        print(json.dumps(obj, indent=2, sort_keys=True))
    else:
        print(text)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _trusted_from_config():
    from depotdelivery.config import load_config
    from depotdelivery.wrapper.verify import trusted_keys
    cfg = load_config()
    return cfg, trusted_keys(cfg.trusted_keys, cfg.revoked_keys, where=cfg.path)


UNVERIFIED = "unverified: no trusted keys configured"


def _listing_anchors():
    """For listings: the site's trust anchors and how records were checked,
    or (None, UNVERIFIED) when the site config trusts no key (a publisher's
    machine without a site config)."""
    from depotdelivery.config import load_config
    cfg = load_config()
    if not cfg.trusted_keys:
        return None, UNVERIFIED
    _, anchors = _trusted_from_config()
    return anchors, f"signatures checked with the trusted keys of {cfg.path}"


def _record_fields(root: str, name: str, version: int, anchors) -> dict:
    """One channel record as a listing shows it: verified through the trust
    core when there are anchors (no freshness judged: an expired record is
    shown as expired), else its claims as written, marked unverified."""
    import json

    from depotdelivery import channels
    from depotdelivery.errors import DepotDeliveryError
    from depotdelivery.trust import open_channel_record
    try:
        data = channels.read_record(root, name, version)
        if anchors is not None:
            return {**open_channel_record(data, anchors, name=name, version=version).to_json(), "verified": True}
    except DepotDeliveryError as e:
        return {"version": version, "verified": False, "error": e.message}
    try:
        signed = json.loads(json.loads(data)["signed"])
        return {"version": version, **{k: signed.get(k) for k in ("image", "published", "expires")},
                "verified": False}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"version": version, "verified": False, "error": "unreadable record"}


def _record_text(info: dict) -> str:
    if "error" in info:
        return f"INVALID: {info['error']}"
    from datetime import datetime, timezone

    from depotdelivery.model import parse_utc
    try:
        expired = " (EXPIRED)" if datetime.now(timezone.utc) >= parse_utc(str(info.get("expires"))) else ""
    except ValueError:  # an unverified record's claim: shown as written
        expired = ""
    return (f"published {info.get('published')}  -> {str(info.get('image'))[:12]}  "
            f"expires {info.get('expires')}{expired}")


# -- commands ------------------------------------------------------------------
def _keygen(args):
    from depotdelivery.signing import load_public, write_keypair
    secret, public = write_keypair(args.prefix)
    k = load_public(public)
    _emit(args, {"secret": secret, "public": public, "keyid": k.keyid},
          f"wrote {secret} (keep it secret) and {public} (key id {k.keyid})")


def _build(args):
    import os

    from depotdelivery.builder.pipeline import BuildRequest, build
    from depotdelivery.julia import find_julia
    from depotdelivery.levels import parse_levels
    from depotdelivery.progress import Reporter
    julia = find_julia(args.julia)
    req = BuildRequest(project_dir=args.project, levels=parse_levels(args.levels), out=args.out,
                       julia=julia, workload=args.workload, registries=tuple(args.registry),
                       store_path=args.store_path, jobs=args.jobs, name=args.name,
                       lazy_artifacts=args.lazy_artifacts, stdlibs=args.stdlibs, multi_target=args.multi_target,
                       keep_stdlibs=tuple(n.strip() for a in args.keep_stdlib for n in a.split(",") if n.strip()))
    res = build(req, Reporter(quiet=args.json))
    m = res.manifest
    rows = [f"built image {m.image_id} ({m.name}) in {res.stats.get('total_s')} s -> {os.path.abspath(res.out)}"]
    for lvl, v in sorted(res.stats.get("variants", {}).items()):
        rows.append(f"  {lvl:10s} cpu-target {v['cpu_target']:15s} {_human(v['size']):>10s}  "
                    f"compile {v['compile_s']} s, {v['precompiled']} methods precompiled"
                    + (f", {v['precompile_failed']} failed (see {v['precompile_failed_list']})"
                       if v.get("precompile_failed") else ""))
    rc = res.stats.get("runtime_compiled")
    if rc is not None:
        rows.append("  still compiled at run time (every stdio kind): "
                    + ", ".join(f"{k}={n}" for k, n in sorted(rc.items())))
    _emit(args, {"image_id": m.image_id, "out": os.path.abspath(res.out), **res.stats}, "\n".join(rows))


def _publish(args):
    from depotdelivery.builder.publish import publish
    from depotdelivery.progress import Reporter
    from depotdelivery.signing import load_secret
    from depotdelivery.stores import open_store
    key = load_secret(args.key)
    expires = _duration(args.expires)
    res = publish(args.build_dir, open_store(args.store), key, channel=args.channel, expires_in=expires,
                  reporter=Reporter(quiet=args.json))
    obj = {"image_id": res.image_id, "bytes_written": res.bytes_written, "files_written": res.files_written,
           "files_reused": res.files_reused, "already_published": res.already_published,
           "channel": res.channel.to_json() if res.channel else None}
    text = (f"published image {res.image_id}: {res.files_written} files, {_human(res.bytes_written)} written, "
            f"{res.files_reused} already in the store")
    if res.channel:
        text += f"\nchannel {res.channel.channel} -> {res.image_id[:12]} (version {res.channel.version}, " \
                f"expires {res.channel.expires})"
    _emit(args, obj, text)


def _ls(args):
    import os

    from depotdelivery import channels
    from depotdelivery.model import is_image_id, parse_manifest
    from depotdelivery.stores import readable_root
    root = readable_root(args.store)
    images: list[dict] = []
    idir = os.path.join(root, "images")
    for name in sorted(os.listdir(idir)) if os.path.isdir(idir) else []:
        if not is_image_id(name):
            continue
        try:
            with open(os.path.join(idir, name, "manifest.json"), "rb") as f:
                m = parse_manifest(f.read(), expected_id=name)
        except Exception as e:  # listing must go on past one broken image
            images.append({"id": name, "error": str(e)})
            continue
        images.append({"id": name, "name": m.name, "created": m.created, "julia": m.julia_version,
                       "variants": {v.level: next(f.size for f in m.files if f.root == "image" and f.path == v.sysimage)
                                    for v in m.variants},
                       "size": m.total_size()})
    anchors, how = _listing_anchors()
    chans = {}
    for c in channels.channel_names(root):
        vs = channels.versions(root, c)
        if vs:
            chans[c] = _record_fields(root, c, vs[-1], anchors)
    lines = [f"store {root}", "images:"]
    for im in images:
        if "error" in im:
            lines.append(f"  {im['id'][:12]}  BROKEN: {im['error']}")
            continue
        var = ", ".join(f"{k} {_human(v)}" for k, v in im["variants"].items())
        lines.append(f"  {im['id'][:12]}  {im['name']:16s} {im['created']}  julia {im['julia']}  "
                     f"total {_human(im['size'])}  [{var}]")
    lines.append(f"channels ({how}):")
    for c, info in chans.items():
        lines.append(f"  {c:12s} version {info['version']:<4d} {_record_text(info)}")
    _emit(args, {"store": root, "images": images, "channels": chans, "channels_checked": how},
          "\n".join(lines))


def _channel_show(args):
    from datetime import datetime, timezone

    from depotdelivery import channels
    from depotdelivery.stores import readable_root
    _, keys = _trusted_from_config()
    root = readable_root(args.store)
    rec = channels.latest_signed(root, args.name, keys)
    state = "EXPIRED" if rec.expired(datetime.now(timezone.utc)) else "valid"
    _emit(args, rec.to_json(), f"channel {rec.channel} -> {rec.image}\n  version {rec.version}, "
          f"published {rec.published}, expires {rec.expires} ({state}), variants {', '.join(rec.levels)}")


def _channel_history(args):
    from depotdelivery import channels
    from depotdelivery.model import check_channel_name
    from depotdelivery.stores import readable_root
    root = readable_root(args.store)
    check_channel_name(args.name)
    anchors, how = _listing_anchors()
    objs = [_record_fields(root, args.name, v, anchors) for v in channels.versions(root, args.name)]
    if not objs:
        from depotdelivery.errors import UsageError
        raise UsageError(f"unknown channel {args.name!r} in {root}")
    rows = [f"  v{o['version']:<4d} {_record_text(o)}" for o in objs]
    _emit(args, objs, f"channel {args.name} history (newest last; {how}):\n" + "\n".join(rows))


def _channel_set(args):
    import os

    from depotdelivery.builder.publish import set_channel
    from depotdelivery.signing import load_secret
    from depotdelivery.stores import open_store
    from depotdelivery.wrapper.verify import resolve_image_ref
    store = open_store(args.store)
    image = resolve_image_ref(store.root, args.image) if os.path.isdir(store.root) else args.image
    rec = set_channel(store, args.name, image, load_secret(args.key), expires_in=_duration(args.expires))
    _emit(args, rec.to_json(), f"channel {rec.channel} -> {rec.image} (version {rec.version}, "
          f"expires {rec.expires})")


def _detect(args):
    from depotdelivery.config import load_config
    from depotdelivery.detect import detect
    from depotdelivery.levels import supported_levels
    cfg = load_config()
    det = detect(cpuinfo=args.cpuinfo or None, cap=cfg.max_level)
    levels = supported_levels(det.level)
    obj = {"level": det.level.name, "cpu_level": det.cpu_level.name, "level_number": det.level.number,
           "supported": [l.name for l in levels], "reason": det.reason, "source": det.source,
           "htcondor_microarch": det.level.htcondor_microarch}
    if args.json:
        _emit(args, obj, "")
    elif args.format == "slurm":
        print(",".join(l.name for l in levels))
    elif args.format == "condor":
        print(f"DepotDeliveryLevel = {det.level.number}")
        print(f'DepotDeliveryLevelName = "{det.level.name}"')
        print(f"DepotDeliveryCpuLevel = {det.cpu_level.number}")
    else:
        print(det.level.name)


def _verify(args):
    from depotdelivery.wrapper.launch import LaunchRequest, prepare
    launch = prepare(LaunchRequest(command=("true",), store=args.store, channel=args.channel,
                                   image=args.image, cpuinfo=args.cpuinfo), write_plan=False)
    _emit(args, {"image_id": launch.image_id, "variant": launch.level, "reason": launch.detection.reason,
                 "depot": launch.depot},
          f"image {launch.image_id} verified; variant {launch.level} ({launch.detection.reason})")


def _gc(args):
    from depotdelivery.config import load_config, parse_size
    from depotdelivery.wrapper import nodecache
    from depotdelivery.wrapper.hydrate import clean
    import os
    cfg = load_config()
    base = nodecache.user_dir(cfg.cache_dir, os.getuid(), create=False)
    if not base:
        print("nothing to clean")
        return
    removed = clean(base, max_age_days=args.max_age_days if args.max_age_days is not None else cfg.cache_max_age_days,
                    max_bytes=parse_size(args.max_size) if args.max_size else cfg.cache_max_bytes)
    print(f"removed {len(removed)} depot(s)")


def _registry_create(args):
    from depotdelivery.builder.registry import create_registry
    url = create_registry(args.packages, args.out, name=args.name)
    print(url)


if __name__ == "__main__":
    sys.exit(main())
