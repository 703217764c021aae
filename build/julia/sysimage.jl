# Compile a system image (run with --output-o).  In --output-o mode Julia 1.5
# skips its start-up code, so load and depot paths are set up here first:
# without them `using` fails, and printing that error crashes.
Base.reinit_stdio()
Base.init_load_path()
Base.init_depot_path()

const packages = filter(!isempty, split(ENV["DD_PACKAGES"], ','))
const statements_file = ENV["DD_PRECOMPILE"]

for name in packages
    Core.eval(Main, Meta.parse("using $name"))
end

# Evaluate the traced precompile statements in a module that binds every
# loaded module by name: in Main some statements fail because they name
# modules that are not bound there.
const PrecompileStage = Module(:__DepotDeliveryPrecompile)
for (pkgid, mod) in Base.loaded_modules
    name = Symbol(pkgid.name)
    isdefined(PrecompileStage, name) || Core.eval(PrecompileStage, :(const $name = $mod))
end
Core.eval(PrecompileStage, :(using Base, Core))

let ok = 0, failed = 0
    for line in eachline(statements_file)
        startswith(line, "precompile(") || continue
        try
            if Core.eval(PrecompileStage, Meta.parse(line)) === true
                ok += 1
            else
                failed += 1
            end
        catch
            failed += 1
        end
    end
    open(ENV["DD_STATS"], "w") do io
        println(io, "precompiled=$ok")
        println(io, "failed=$failed")
    end
end

# Nothing of the build machine's paths may stay in the image.
empty!(LOAD_PATH)
empty!(DEPOT_PATH)
