"""`depotdelivery fingerprint | validate | coverage`: A/B validation commands."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

FINGERPRINT_JL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "julia", "fingerprint.jl")

EPILOG = {
    "fingerprint": "example:\n  depotdelivery fingerprint --image 3f2a9c01 --workload workload.jl --out node.json",
    "validate": "example:\n  depotdelivery validate --image 3f2a9c01 node.json",
    "coverage": "example:\n  depotdelivery coverage --image 3f2a9c01 -- julia analysis.jl",
}


def add_commands(commands) -> None:
    """Register on the CLI's `Commands` (depotdelivery/cli.py)."""
    for name, func, help_ in (
            ("fingerprint", _fingerprint, "fingerprint Julia as the wrapper starts it (module graph, method cache)"),
            ("validate", _validate, "compare a node's fingerprint with the one recorded at build time"),
            ("coverage", _coverage, "run a command through the wrapper and list methods compiled at run time")):
        sp = commands.add(name, func, help_, EPILOG[name])
        sp.add_argument("--store", default="")
        sp.add_argument("--image", default="")
        sp.add_argument("--channel", default="")
        sp.add_argument("--cpuinfo", default="")
        if name == "fingerprint":
            sp.add_argument("--workload", default="", help="run this .jl file first (as the build did)")
            sp.add_argument("--out", required=True)
        elif name == "validate":
            sp.add_argument("node_fingerprint")
            sp.add_argument("--json", action="store_true")
        else:
            sp.add_argument("command", nargs="+", help="-- julia args...")


def _prepare(args, command=("julia",)):
    from depotdelivery.wrapper.jobref import from_environment
    from depotdelivery.wrapper.launch import LaunchRequest, prepare
    ref = from_environment(args.channel, args.image)
    return prepare(LaunchRequest(command=tuple(command), store=args.store, channel=ref.channel,
                                 image=ref.image, cpuinfo=args.cpuinfo))


def fingerprint_with(launch, out: str, workload: str = "") -> None:
    """Run fingerprint.jl exactly as the wrapper starts Julia, with the same
    stdio on both sides (build and node): stdin /dev/null, stdout and stderr
    pipes.  Julia compiles different methods for different stdio types (a
    Slurm task's stdin is a pipe), and the fingerprint must not depend on it."""
    from depotdelivery.errors import DepotDeliveryError
    cmd = [*launch.argv, FINGERPRINT_JL, os.path.abspath(out), os.path.abspath(workload) if workload else ""]
    p = subprocess.run(cmd, env=launch.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        last = next((l for l in reversed(p.stderr.splitlines()) if l.strip()), f"exit {p.returncode}")
        raise DepotDeliveryError(f"fingerprint failed: {last.strip()[:300]}")


def _fingerprint(args):
    from depotdelivery.errors import UsageError
    if args.workload and not os.path.isfile(args.workload):
        raise UsageError(f"workload {args.workload} not found")
    launch = _prepare(args)
    fingerprint_with(launch, args.out, args.workload)
    print(f"wrote {args.out} (image {launch.image_id[:12]}, variant {launch.level})")


def _validate(args):
    import hashlib
    import json

    from depotdelivery.config import load_config
    from depotdelivery.errors import EX_AB_DIFFERENT, ImageInvalid, UsageError
    from depotdelivery.stores import readable_root
    from depotdelivery.wrapper.validate import compare, parse
    from depotdelivery.wrapper.verify import read_manifest, resolve_image_ref, trusted_keys
    try:
        with open(args.node_fingerprint, "rb") as f:
            node = parse(f.read(64 << 20), source=args.node_fingerprint)
    except OSError as e:
        raise UsageError(f"cannot read {args.node_fingerprint}: {e.strerror}") from None
    cfg = load_config()
    root = readable_root(args.store or cfg.default_store())
    image_id = resolve_image_ref(root, args.image or node.image_id)
    if node.image_id and node.image_id != image_id:
        raise UsageError(f"{args.node_fingerprint} is from image {node.image_id[:12]}, not {image_id[:12]}; "
                         "fingerprint the image you validate")
    img = read_manifest(root, image_id, trusted_keys(cfg.trusted_keys, cfg.revoked_keys, where=cfg.path),
                        named_by_store=False)
    variant = img.manifest.variant(node.variant) if node.variant in {v.level for v in img.manifest.variants} else None
    if variant is None or not variant.fingerprint:
        raise UsageError(f"image {image_id[:12]} has no build fingerprint for variant {node.variant or '?'}; "
                         "rebuild it with this depotdelivery")
    entry = next(f for f in img.manifest.files if f.root == "image" and f.path == variant.fingerprint)
    path = os.path.join(img.image_dir, variant.fingerprint)
    # Hash what is parsed: the very bytes read, checked against the manifest.
    try:
        with open(path, "rb") as f:
            data = f.read(entry.size + 1)
    except OSError as e:
        raise ImageInvalid(f"image {image_id[:12]}: cannot read {variant.fingerprint} ({e.strerror})") from None
    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise ImageInvalid(f"image {image_id[:12]}: {variant.fingerprint} does not match the manifest (tampered)")
    build = parse(data, source=path, error=ImageInvalid)
    result = compare(build, node)
    if args.json:
        print(json.dumps({"identical": result.identical, "summary": result.summary,
                          "differences": list(result.differences)}, indent=2))
    else:
        print(result.summary)
        for d in result.differences:
            print(f"  - {d}")
    return 0 if result.identical else EX_AB_DIFFERENT


def _coverage(args):
    from depotdelivery.errors import UsageError
    command = [c for c in args.command if c != "--"]
    if not command or os.path.basename(command[0]) != "julia":
        raise UsageError("coverage runs a Julia command: depotdelivery coverage --image ID -- julia script.jl")
    launch = _prepare(args, command)
    prefix = len(launch.argv) - (len(command) - 1)
    with tempfile.TemporaryDirectory(prefix="dd-coverage-") as tmp:
        trace = os.path.join(tmp, "trace.jl")
        argv = [*launch.argv[:prefix], f"--trace-compile={trace}", *launch.argv[prefix:]]
        rc = subprocess.run(argv, env=launch.env).returncode
        try:
            with open(trace) as f:
                lines = [l.rstrip("\n") for l in f if l.startswith("precompile(")]
        except FileNotFoundError:
            lines = []
    print(f"{len(lines)} method(s) compiled at run time despite image {launch.image_id[:12]} "
          f"(variant {launch.level})", file=sys.stderr)
    for l in lines:
        print(f"  {l}", file=sys.stderr)
    return rc
