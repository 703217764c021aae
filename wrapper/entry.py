"""`depotdelivery run` and the `depotdelivery-run` job wrapper script.

Argument parsing here is by hand on purpose: argparse's import alone costs a
few milliseconds of a 20 ms budget, and the fast path must not pay it.
"""

import os
import sys

USAGE = """usage: depotdelivery run [--store STORE] (--channel NAME | --image ID) [--cpuinfo FILE]
                         [--dry-run [--json]] -- COMMAND [ARGS...]

Verify the image, select the variant for this CPU, and exec COMMAND with it.
If COMMAND is `julia`, it is replaced by the site's Julia started with the
image's system image and project; any other command finds that `julia` first
on PATH.

--dry-run verifies and prints the command and the full environment the job
would get (`*` marks what depotdelivery sets), without running it; with
--json as one JSON object.

examples:
  depotdelivery run --store /cvmfs/julia.example.org/depots --channel stable -- julia analysis.jl
  depotdelivery run --channel stable --dry-run --json -- julia analysis.jl
  depotdelivery run --image 3f2a9c01 -- julia -e 'using HepAnalysis; HepAnalysis.main()'

exit codes: 64 usage, 65 image invalid (hold the job), 69 store unavailable,
            75 this node cannot run it (run elsewhere), 78 site configuration
"""

_OPTS = ("--store", "--channel", "--image", "--cpuinfo")


def parse(args):
    """-> (options dict, command list); raises ValueError with a message."""
    opts = {"--store": "", "--channel": "", "--image": "", "--cpuinfo": "", "--dry-run": False, "--json": False}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return opts, list(args[i + 1:])
        if a in ("-h", "--help"):
            raise SystemExit(print(USAGE, end="") or 0)
        if a in ("--dry-run", "--json"):
            opts[a] = True
            i += 1
            continue
        name, eq, value = a.partition("=")
        if name in _OPTS:
            if not eq:
                if i + 1 >= len(args):
                    raise ValueError(f"{name} needs a value")
                value = args[i + 1]
                i += 1
            opts[name] = value
            i += 1
            continue
        if a.startswith("-"):
            raise ValueError(f"unknown option {a}")
        return opts, list(args[i:])  # the command starts here
    return opts, []


def main(args=None):
    args = sys.argv[1:] if args is None else args
    try:
        opts, command = parse(args)
        if opts["--json"] and not opts["--dry-run"]:
            raise ValueError("--json goes with --dry-run")
    except ValueError as e:
        return _fail_usage(str(e))
    if not opts["--dry-run"] and command:
        from . import fastpath, timing
        timing.mark("main")
        if _untouched_condor_job(opts, fastpath):
            return _exec_untouched(command)
        request = fastpath.request(opts["--store"], opts["--channel"], opts["--image"], opts["--cpuinfo"],
                                   command)
        fastpath.try_exec(request, "fast")
        # No plan yet: wait for a peer verifying the same thing, then look again.
        if fastpath.wait_for_peer(request) is not None:
            timing.mark("lock")
            fastpath.try_exec(request, "peer")
    # No valid plan: the full wrapper (imports everything, verifies).
    from depotdelivery.errors import DepotDeliveryError, UsageError
    from depotdelivery.cli_errors import report
    try:
        from .jobref import from_environment
        from .launch import LaunchRequest, execute, prepare
        ref = from_environment(opts["--channel"], opts["--image"])
        if not (ref.channel or ref.image) and _condor_wants_image():
            raise UsageError("this job sets JuliaImage but no JuliaImageId was pinned at submit "
                             "(is JuliaImage a quoted string? is site-configs/htcondor/"
                             "50-depotdelivery.conf enabled on the access point?); resubmit")
        req = LaunchRequest(command=tuple(command), store=opts["--store"], channel=ref.channel,
                            image=ref.image, cpuinfo=opts["--cpuinfo"])
        launch = prepare(req)
        if opts["--dry-run"]:
            _print_dry_run(launch, as_json=opts["--json"])
            return 0
        execute(launch)
    except DepotDeliveryError as e:
        return report(e)
    return 0


def _print_dry_run(launch, *, as_json):
    """What the job would get: the command and its whole environment."""
    import shlex
    ours = set(launch.plan["env"]) | {"PATH"}
    if as_json:
        import json
        print(json.dumps({"image_id": launch.image_id, "variant": launch.level,
                          "reason": launch.detection.reason, "argv": list(launch.argv),
                          "env": dict(sorted(launch.env.items())), "set_by_depotdelivery": sorted(ours)},
                         indent=2))
        return
    print(f"image {launch.image_id} variant {launch.level} ({launch.detection.reason})")
    print("exec " + " ".join(shlex.quote(a) for a in launch.argv))
    print("environment (* = set by depotdelivery):")
    for k, v in sorted(launch.env.items()):
        print(f"{'*' if k in ours else ' '} {k}={v}")


def _untouched_condor_job(opts, fastpath):
    """An HTCondor job that names no image (no JuliaImage/JuliaImageId in its
    ad, no DEPOTDELIVERY_CHANNEL/_PIN in its environment, nothing on the
    wrapper's command line) is none of depotdelivery's business."""
    env = os.environ
    return (not (opts["--channel"] or opts["--image"] or opts["--store"])
            and not (env.get("DEPOTDELIVERY_PIN") or env.get("DEPOTDELIVERY_CHANNEL"))
            and fastpath.condor_job_wants_image() is False)


def _condor_wants_image():
    from .fastpath import condor_job_wants_image
    return bool(condor_job_wants_image())


def _exec_untouched(command):
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)
    except OSError as e:
        return _fail_usage(f"cannot exec {command[0]}: {e.strerror}")


def _fail_usage(msg):
    from depotdelivery.cli_errors import report
    from depotdelivery.errors import UsageError
    return report(UsageError(f"{msg}; see depotdelivery run --help"))


if __name__ == "__main__":
    sys.exit(main())
