# Fingerprint of the running Julia, for A/B validation of an image.
# Run as: julia -J <image> --project=<image project> fingerprint.jl OUT [WORKLOAD]
# Prints nothing; writes JSON (stable order) to OUT.
#
# Module graph: every loaded module with its UUID, build id and origin (the
# system image, or the .ji file whose header carries the same build id).
# Method cache: every specialization that has a code instance, as a sorted
# list of signatures and a digest; what the workload compiled at run time
# shows up here as extra entries.

const _boot_modules = Set(keys(Base.loaded_modules))
const _out = ARGS[1]

if length(ARGS) >= 2 && !isempty(ARGS[2])
    # The workload's own output is not part of the fingerprint.
    open("/dev/null", "w") do null
        redirect_stdout(null) do
            Base.include(Main, ARGS[2])
        end
    end
end

using SHA

function cache_origin(pkg::Base.PkgId, build_id::UInt64)
    for path in Base.find_all_in_cache_path(pkg)
        ok = try
            open(path) do io
                Base.isvalid_cache_header(io) == 0 && return false
                modules = Base.parse_cache_header(io)[1]
                any(p -> p.first == pkg && p.second == build_id, modules)
            end
        catch
            false
        end
        # Depots differ between CI and nodes: keep the part below the depot.
        ok && return "ji:" * replace(path, r"^.*/(compiled/v[0-9.]+/)" => s"\1")
    end
    return "unknown"
end

function module_graph()
    out = []
    for (pkg, mod) in Base.loaded_modules
        build_id = Base.module_build_id(mod)
        origin = pkg in _boot_modules ? "image" : cache_origin(pkg, build_id)
        push!(out, (name = pkg.name, uuid = pkg.uuid === nothing ? "" : string(pkg.uuid),
                    build_id = string(build_id, base = 16), origin = origin))
    end
    sort!(out, by = m -> (m.name, m.uuid))
end

function visit_specializations(f, m::Method)
    s = m.specializations
    s === nothing && return
    if s isa Core.SimpleVector
        for i in 1:length(s)  # a hash table: some slots are empty
            isassigned(s, i) || continue
            mi = s[i]
            mi isa Core.MethodInstance && f(mi)
        end
    else
        Base.visit(f, s)
    end
end

function method_cache()
    seen_tables = Set{UInt}()
    sigs = Set{String}()
    function scan_table(mt)
        objectid(mt) in seen_tables && return
        push!(seen_tables, objectid(mt))
        for m in Base.MethodList(mt)
            visit_specializations(m) do mi
                if isdefined(mi, :cache)
                    push!(sigs, string(mi.specTypes))
                end
            end
        end
    end
    seen_modules = Set{Module}()
    function scan_module(mod::Module)
        mod in seen_modules && return
        push!(seen_modules, mod)
        for name in names(mod, all = true, imported = true)
            isdefined(mod, name) || continue
            v = try getfield(mod, name) catch; nothing end
            if v isa Module
                scan_module(v)
            elseif v isa Function
                scan_table(typeof(v).name.mt)
            elseif v isa DataType && isdefined(v.name, :mt)
                scan_table(v.name.mt)
            end
        end
    end
    for mod in values(Base.loaded_modules)
        scan_module(mod)
    end
    scan_module(Main)
    sort!(collect(sigs))
end

# A JSON string literal (RFC 8259).  Not escape_string: it writes \e and
# \x7f, which JSON does not have, so one odd module or method name would
# make the whole fingerprint unreadable.
function jstr(s::AbstractString)
    io = IOBuffer()
    write(io, '"')
    for c in s
        if c == '"'
            write(io, "\\\"")
        elseif c == '\\'
            write(io, "\\\\")
        elseif !isvalid(c) || c < ' ' || c == '\x7f'
            print(io, "\\u", string(isvalid(c) ? UInt32(c) : 0xfffd, base = 16, pad = 4))
        else
            print(io, c)
        end
    end
    write(io, '"')
    return String(take!(io))
end

mods = module_graph()
sigs = method_cache()
digest = bytes2hex(sha256(join(sigs, "\n")))
open(_out, "w") do io
    println(io, "{")
    println(io, "  \"schema\": \"depotdelivery/fingerprint/v1\",")
    println(io, "  \"julia_version\": ", jstr(string(VERSION)), ",")
    println(io, "  \"image_id\": ", jstr(get(ENV, "DEPOTDELIVERY_IMAGE_ID", "")), ",")
    println(io, "  \"variant\": ", jstr(get(ENV, "DEPOTDELIVERY_VARIANT", "")), ",")
    println(io, "  \"cpu_target\": ", jstr(get(ENV, "DEPOTDELIVERY_CPU_TARGET", "")), ",")
    println(io, "  \"node_level\": ", jstr(get(ENV, "DEPOTDELIVERY_NODE_LEVEL", "")), ",")
    println(io, "  \"modules\": [")
    for (i, m) in enumerate(mods)
        print(io, "    {\"name\": ", jstr(m.name), ", \"uuid\": ", jstr(m.uuid), ", \"build_id\": ",
              jstr(m.build_id), ", \"origin\": ", jstr(m.origin), "}")
        println(io, i < length(mods) ? "," : "")
    end
    println(io, "  ],")
    println(io, "  \"methods\": {\"count\": ", length(sigs), ", \"digest\": ", jstr(digest), ", \"signatures\": [")
    for (i, s) in enumerate(sigs)
        print(io, "    ", jstr(s))
        println(io, i < length(sigs) ? "," : "")
    end
    println(io, "  ]}")
    println(io, "}")
end
