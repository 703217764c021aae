"""
    AnalysisResult{T}

Everything produced by one pass over the events in precision `T`.
"""
struct AnalysisResult{T<:AbstractFloat,AT<:Tuple}
    nevents::Int
    nresonance::Int
    analyses::AT
    shapes::EventShapes{T}
end

Base.eltype(::AnalysisResult{T}) where {T} = T

# Recursing over the tuple instead of looping keeps each analysis call
# statically dispatched: the tuple holds a different concrete type per
# configuration.
_process_all!(::Tuple{}, ev) = nothing
function _process_all!(t::Tuple, ev)
    process!(first(t), ev)
    _process_all!(Base.tail(t), ev)
end

"""
    run_analysis(events, configs=default_configs())

Run every configuration and the event shapes over `events`.
"""
function run_analysis(events::AbstractVector{Event{T}},
                      configs::Tuple=default_configs()) where {T}
    analyses = map(c -> JetAnalysis{T}(c), configs)
    shapes = EventShapes{T}()
    nres = 0
    for ev in events
        _process_all!(analyses, ev)
        process!(shapes, ev)
        nres += ev.process === :resonance
    end
    AnalysisResult{T,typeof(analyses)}(length(events), nres, analyses, shapes)
end

# Printf in Julia 1.5 needs literal formats, hence one branch per precision.
function _f(x::Real, digits::Int=3)
    isfinite(x) || return "nan"
    # Massless schemes give masses of ±1e-6; print those as 0, not "-0.00".
    abs(x) < 0.5 * 10.0^-digits && (x = zero(x))
    digits == 2 ? @sprintf("%.2f", x) :
    digits == 3 ? @sprintf("%.3f", x) :
    digits == 4 ? @sprintf("%.4f", x) : @sprintf("%.6f", x)
end

function summarize(io::IO, ana::JetAnalysis{T}) where {T}
    cfg = ana.cfg
    println(io, "[", cfg.name, "] ", cfg.algorithm, " on ", cfg.input, ", ", cfg.scheme,
            ", jets: ", cfg.jets)
    cf = ana.cutflow
    print(io, "  cutflow:")
    for i in eachindex(cf.names)
        print(io, i == 1 ? " " : " | ", cf.names[i], " ", cf.raw[i])
    end
    println(io)
    println(io, "  weighted: ", join((_f(x, 4) for x in cf.weighted), " "))
    println(io, "  jets: <n>=", _f(mean(ana.s_njets)), " <pt>=", _f(mean(ana.s_jetpt), 2),
            " <m>=", _f(mean(ana.s_mass), 2), " <lead pt>=", _f(mean(ana.s_leadpt), 2),
            " nconst mean=", _f(mean(ana.nconst), 2))
    println(io, "  dijet: <mjj>=", _f(mean(ana.s_mjj), 2), " (n=", length(ana.s_mjj),
            ") chi mean=", _f(mean(ana.chi), 3), " |dphi| mean=", _f(mean(ana.dphi), 3))
    println(io, "  response: <pt_jet/pt_parton>=", _f(mean(ana.s_response), 4),
            " std=", _f(std(ana.s_response), 4), " (", length(ana.s_response), " matches)")
    nothing
end

function summarize(io::IO, es::EventShapes)
    println(io, "[event shapes] <nparticles>=", _f(mean(es.s_nparticles), 2),
            " <HT>=", _f(mean(es.s_ht), 2), " <thrust>=", _f(mean(es.s_thrust), 4),
            " <sphericity>=", _f(mean(es.sphericity), 4),
            " <log10 sqrt(d23)>=", _f(mean(es.log_d23), 3))
    nothing
end

function summarize(io::IO, r::AnalysisResult{T}) where {T}
    println(io, "== ", precision_label(T), ": ", r.nevents, " events (", r.nresonance, " resonance) ==")
    foreach(a -> summarize(io, a), r.analyses)
    summarize(io, r.shapes)
    nothing
end

"""
    compare_precisions(io, r64, r32)

Report how far the reduced-precision run drifts from the reference: cut
flows should agree exactly except for events sitting on a cut boundary.
"""
function compare_precisions(io::IO, ref::AnalysisResult, low::AnalysisResult)
    println(io, "== ", precision_label(eltype(low)), " vs ", precision_label(eltype(ref)), " ==")
    for (a, b) in zip(ref.analyses, low.analyses)
        diffs = _cutflow_differences(a, b)
        rel = abs(mean(b.s_jetpt) - mean(a.s_jetpt)) / abs(mean(a.s_jetpt))
        println(io, "  ", rpad(a.cfg.name, 11), " cutflow differences=", diffs,
                " <pt> rel.diff ", rel < 1e-5 ? "<1e-5" : @sprintf("%.1e", rel))
    end
    nothing
end

"""
    reference_check(io, events, configs; nref=20)

Re-run the first `nref` events in `BigFloat` and compare with `Float64` on
the same events.  Any disagreement beyond rounding points at a numerically
fragile step (cancellation in masses or rapidities, cut decisions on a
boundary) rather than at the reduced-precision run.
"""
function reference_check(io::IO, events::AbstractVector{Event{Float64}}, configs::Tuple;
                         nref::Integer=20)
    sub = events[1:min(nref, length(events))]
    ref = run_analysis(Event{BigFloat}.(sub), configs)
    r64 = run_analysis(sub, configs)
    println(io, "== BigFloat reference (", length(sub), " events, ",
            precision(BigFloat), " bits) ==")
    for (a, b) in zip(ref.analyses, r64.analyses)
        diffs = _cutflow_differences(a, b)
        worst = max(_reldiff(a.s_jetpt, b.s_jetpt), _reldiff(a.s_mass, b.s_mass),
                    _reldiff(a.s_mjj, b.s_mjj), _reldiff(a.s_response, b.s_response))
        println(io, "  ", rpad(a.cfg.name, 11), " cutflow differences=", diffs,
                " worst rel.diff of means ", worst < 1e-12 ? "<1e-12" : @sprintf("%.1e", worst))
    end
    thr = _reldiff(ref.shapes.s_thrust, r64.shapes.s_thrust)
    println(io, "  event shapes thrust rel.diff ", thr < 1e-12 ? "<1e-12" : @sprintf("%.1e", thr))
    ref
end

function _reldiff(a::RunningStats, b::RunningStats)
    (length(a) == 0 || length(b) == 0) && return 0.0
    ma, mb = mean(a), mean(b)
    iszero(ma) ? Float64(abs(mb)) : Float64(abs(mb - ma) / abs(ma))
end

"""
    report_histograms(io, r; analysis=1)

Render the headline histograms of one configuration plus the event shapes.
"""
function report_histograms(io::IO, r::AnalysisResult; analysis::Int=1)
    a = r.analyses[analysis]
    tag = string("[", a.cfg.name, ", ", precision_label(eltype(r)), "] ")
    render(io, a.jet_pt; title=tag * "jet pt [GeV]")
    render(io, a.mjj; title=tag * "dijet mass [GeV]")
    render(io, normalize(a.chi); title=tag * "chi (normalised)")
    render(io, a.etaphi; title=tag * "jet occupancy eta (x) vs phi (y)")
    render(io, a.mass_vs_pt; title=tag * "<jet mass> vs jet pt")
    render(io, r.shapes.thrust; title=string("[shapes, ", precision_label(eltype(r)), "] transverse thrust"))
    nothing
end

"""
    write_histograms_csv(dir, r)

Write every histogram of every configuration as `<config>_<name>.csv`.
Returns `(files, rows)`.
"""
function write_histograms_csv(dir::AbstractString, r::AnalysisResult)
    files = String[]
    rows = 0
    for a in r.analyses
        rows += _write_all(dir, a.cfg.name, a, files)
    end
    rows += _write_all(dir, "shapes", r.shapes, files)
    files, rows
end

function _write_all(dir::AbstractString, prefix::AbstractString, obj, files::Vector{String})
    rows = 0
    for f in fieldnames(typeof(obj))
        h = getfield(obj, f)
        h isa AbstractHistogram || continue
        path = joinpath(dir, string(prefix, "_", f, ".csv"))
        rows += writecsv(path, h)
        push!(files, path)
    end
    rows
end

"""
    main(; nevents=200, seed=20201, out=stdout, reference=10)

Generate `nevents` pseudo-events, run every configuration in `Float64` and
`Float32`, check the first `reference` events against a `BigFloat` run of
the first two configurations (0 skips it), and print a summary.  Output
depends only on the arguments.  Returns `(Float64 = result64, Float32 =
result32)`.
"""
function main(; nevents::Integer=200, seed::Integer=20201, out::IO=stdout,
              reference::Integer=10, configs::Tuple=default_configs(),
              generator::GeneratorConfig=GeneratorConfig())
    println(out, "HepAnalysis: ", nevents, " events, seed ", seed)
    events64 = generate_events(Float64, nevents; seed=seed, cfg=generator)
    r64 = run_analysis(events64, configs)
    r32 = run_analysis(generate_events(Float32, nevents; seed=seed, cfg=generator), configs)
    summarize(out, r64)
    summarize(out, r32)
    compare_precisions(out, r64, r32)
    if reference > 0
        reference_check(out, events64, configs[1:min(2, length(configs))]; nref=reference)
    end
    (Float64=r64, Float32=r32)
end

# Printing a type and broadcasting over values of a heterogeneous tuple both
# dispatch on abstract signatures (`show(io, ::Type)`, `broadcasted(::Function,
# ...)`) that a system image cannot hold, so every run would compile them
# again; these small function barriers keep the compiled code concrete.
precision_label(::Type{T}) where {T<:AbstractFloat} = T === Float64 ? "Float64" :
    T === Float32 ? "Float32" : T === BigFloat ? "BigFloat" : "AbstractFloat"

function _cutflow_differences(a, b)
    total = 0
    for (x, y) in zip(a.cutflow.raw, b.cutflow.raw)
        total += abs(x - y)
    end
    total
end
