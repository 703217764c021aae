# Compile a system image (run with --output-o).
# ENV: DD_LEFT_OUT (standard libraries a slim base left out), DD_INIT_OUTPUT_O (comma-separated Base functions to call first),
# DD_PACKAGES (comma-separated package names), DD_PRECOMPILE (traced
# precompile statements), DD_STATS (where to write counts), DD_FAILED
# (where to list the statements that failed, each with its reason).
# Errors are printed as one "DD-ERROR:" line for the caller.

# In --output-o mode Julia runs no __init__ of the modules in the base image
# (src/init.c), so stdio, load and depot paths are not set up: `using`
# fails, and printing that error crashes.  Which Base functions set them up
# depends on the Julia version; depotdelivery/julia.py names them.  Core's
# stderr needs no set-up, so a bad name can still be reported.
function fail(msg)
    Core.println(Core.stderr, "DD-ERROR: ", replace(msg, '\n' => ' '))
    exit(3)
end

for name in filter(!isempty, split(get(ENV, "DD_INIT_OUTPUT_O", ""), ','))
    f = Symbol(name)
    isdefined(Base, f) || fail("Base.$name is not defined in Julia $VERSION: depotdelivery/julia.py " *
                               "names the wrong start-up calls for this version")
    getfield(Base, f)()
end

# Julia's start runs Sys.__init__ (from C, at every launch), which calls
# abspath(a, b, c...): a method small enough to inline, and such a method
# gets native code in the image only if it runs here; `precompile` alone
# leaves it inferred but uncompiled (and a slim base has no native code of
# its own).  Harmless: every start runs it again with the node's values.
Sys.__init__()

const packages = filter(!isempty, split(get(ENV, "DD_PACKAGES", ""), ','))
const statements_file = ENV["DD_PRECOMPILE"]

# `using Name` as an expression, never parsed from text: a name is only ever
# a module name (the builder checked it; check again here).
for name in packages
    Base.isidentifier(name) || fail("package name $(repr(name)) is not a Julia identifier")
    Core.eval(Main, Expr(:using, Expr(:., Symbol(name))))
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

# Every statement that does not precompile is listed with its reason in
# DD_FAILED: each is a method a job may still compile at run time.
let ok = 0, failed = 0
    open(get(ENV, "DD_FAILED", "/dev/null"), "w") do why
        for line in eachline(statements_file)
            startswith(line, "precompile(") || continue
            reason = try
                Core.eval(PrecompileStage, Meta.parse(line)) === true ? "" :
                    "precompile returned false (no method matches, or it cannot be compiled ahead)"
            catch err
                first(split(sprint(showerror, err), '\n'))
            end
            if isempty(reason)
                ok += 1
            else
                failed += 1
                println(why, line, "\t", reason)
            end
        end
    end
    open(ENV["DD_STATS"], "w") do io
        println(io, "precompiled=$ok")
        println(io, "failed=$failed")
    end
end

# A slim image leaves standard libraries out (builder/baseimage.py).  A job
# that loads one still gets it, from Julia's own files (compiled into the
# node-local depot the first time): say so once, naming the fix.  Julia
# calls package callbacks once per package it loads that the image lacks.
module DepotDeliveryImage
const LEFT_OUT = Set{String}()
function note_left_out(pkg::Base.PkgId)
    # Not in the processes Julia starts to compile a package's cache: the
    # job's own process says it.
    if pkg.name in LEFT_OUT && ccall(:jl_generating_output, Cint, ()) == 0
        println(stderr, "depotdelivery: standard library ", pkg.name, " is not in this image; ",
                "loaded from Julia's own files (slower start). To include it, build with --keep-stdlib ",
                pkg.name)
    end
    nothing
end
end
union!(DepotDeliveryImage.LEFT_OUT, filter(!isempty, split(get(ENV, "DD_LEFT_OUT", ""), ',')))
if !isempty(DepotDeliveryImage.LEFT_OUT)
    push!(Base.package_callbacks, DepotDeliveryImage.note_left_out)
    precompile(DepotDeliveryImage.note_left_out, (Base.PkgId,))
end

# Nothing of the build machine's paths may stay in the image.
empty!(LOAD_PATH)
empty!(DEPOT_PATH)
