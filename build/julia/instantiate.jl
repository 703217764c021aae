# Acquire a project's packages the way Julia does, into DEPOT_PATH[1].
# ENV: DD_REGISTRIES (newline-separated URLs), DD_STUB_REGISTRY ("1": write an
# empty General so Pkg 1.5 does not try to clone it), DD_STEP ("registries" |
# "instantiate" | "artifacts" | "precompile", required: a step this script
# does not know is an error, not a silent success), DD_LAZY_ARTIFACTS ("0":
# leave lazy artifacts out).  Errors are printed as one "DD-ERROR:"
# line for the caller.
using Pkg

function fail(msg)
    println(stderr, "DD-ERROR: ", replace(msg, '\n' => ' '))
    exit(3)
end

depot = DEPOT_PATH[1]
step = get(ENV, "DD_STEP", "")

if step == "registries"
    urls = filter(!isempty, split(get(ENV, "DD_REGISTRIES", ""), '\n'))
    for url in urls
        try
            Pkg.Registry.add(Pkg.RegistrySpec(url = String(url)))
        catch err
            fail("cannot add registry $url: " * sprint(showerror, err))
        end
    end
    if get(ENV, "DD_STUB_REGISTRY", "") == "1"
        stub = joinpath(depot, "registries", "General")
        mkpath(stub)
        write(joinpath(stub, "Registry.toml"),
              "name = \"General\"\nuuid = \"23338594-aafe-5451-b93e-139f81909106\"\n" *
              "repo = \"https://github.com/JuliaRegistries/General.git\"\n\n[packages]\n")
    end
elseif step == "instantiate"
    try
        Pkg.instantiate()
    catch err
        fail("Pkg.instantiate failed: " * sprint(showerror, err))
    end
elseif step == "artifacts"
    # Every artifact the project's packages declare for this platform, lazy
    # ones too: a node never downloads anything (jobs run with Pkg offline),
    # and whatever a job reads must be in the signed image.
    include_lazy = get(ENV, "DD_LAZY_ARTIFACTS", "1") != "0"
    for (uuid, entry) in Pkg.Types.Context().env.manifest
        src = Base.locate_package(Base.PkgId(uuid, entry.name))
        src === nothing && continue
        for file in ("JuliaArtifacts.toml", "Artifacts.toml")
            toml = joinpath(dirname(dirname(src)), file)
            isfile(toml) || continue
            try
                Pkg.Artifacts.ensure_all_artifacts_installed(toml; include_lazy = include_lazy)
            catch err
                fail("artifacts of $(entry.name) ($toml): " * sprint(showerror, err))
            end
            break
        end
    end
elseif step == "precompile"
    try
        Pkg.precompile()
        # Pkg.precompile in 1.5 skips nothing it can load; load every
        # dependency once so each has its .ji, as a job would.
        for (name, _) in Pkg.project().dependencies
            Base.require(Main, Symbol(name))
        end
    catch err
        fail("precompiling the project failed: " * sprint(showerror, err))
    end
else
    fail("unknown DD_STEP $(repr(step)): expected registries, instantiate, artifacts or precompile")
end
