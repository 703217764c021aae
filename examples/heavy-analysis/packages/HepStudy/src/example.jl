# The batch job as one function, so that a job script compiles nothing of
# its own (see workload.jl).

"""
    data_systematics()

Variations of the generated dijet masses: a 3% jet energy scale, 8%
extra resolution and a 10% inefficiency above 400 GeV.
"""
data_systematics() = (
    Systematic("energy scale", ScaleShift("jes_up", 0.03), ScaleShift("jes_down", -0.03)),
    Systematic("resolution", Smearing("jer", 0.08; seed=21)),
    Systematic("efficiency", EfficiencyLoss("eff", 0.10; seed=23, threshold=400.0)),
)

"""
    window_moments(x, w; lo=300, hi=500)

Weighted mean and RMS of the dijet mass inside the signal window.
"""
function window_moments(x::AbstractVector{T}, w::AbstractVector{T}; lo::Real=300, hi::Real=500) where {T}
    keep = [i for i in eachindex(x) if lo <= x[i] <= hi]
    isempty(keep) && return T[NaN, NaN]
    μ, _ = weighted_mean_var(x[keep], w[keep])
    s = zero(T)
    sw = zero(T)
    for i in keep
        s += w[i] * (x[i] - μ)^2
        sw += w[i]
    end
    T[μ, sqrt(s / sw)]
end

function run_data_systematics(s::DijetSample{T}) where {T}
    evaluate_systematics(window_moments, s.mjj, s.weight, data_systematics();
                         quantities=["<mjj>", "rms"])
end

"""
    heavy_example(io::IO = stdout; cfg = StudyConfig())

Run the whole chain — HepAnalysis' example job (captured and summarised
by a checksum), dijet masses from freshly generated events in Float64 and
Float32, the toy fit battery in Float64 and Float32, BigFloat refits,
systematics, bootstrap, propagation and combination — and print the study
report as text, followed by the sizes and checksums of its Markdown, CSV,
LaTeX and JSON renderings.  Output depends only on `cfg`.  Returns the
report.
"""
function heavy_example(io::IO = stdout; cfg::StudyConfig = StudyConfig())
    println(io, "HepStudy heavy example: ", cfg.nevents, " events (seed ", cfg.seed, "), ",
            cfg.ntoy, " toy events per precision (seed ", cfg.toy_seed, ")")

    buf = IOBuffer()
    results = run_example(buf; nevents=cfg.nevents, seed=cfg.seed)
    chain = String(take!(buf))
    lines = split(chain, '\n'; keepempty=false)
    excerpt = vcat(lines[1:min(3, length(lines))], filter(l -> startswith(l, "csv "), lines))

    ev64 = generate_events(Float64, cfg.nevents; seed=cfg.seed)
    ev32 = generate_events(Float32, cfg.nevents; seed=cfg.seed)
    s64 = dijet_masses("antikt04", ev64, AntiKt(0.4))
    s32 = dijet_masses("antikt04", ev32, AntiKt(0.4))
    sca = dijet_masses("ca08", ev64, CambridgeAachen(0.8))
    data = [run_data_fits(s64, results.Float64.analyses[1].mjj, cfg),
            run_data_fits(sca, results.Float64.analyses[5].mjj, cfg)]
    # Typed: the two tables differ in type (Float64, Float32), and an untyped
    # literal of them calls `Base.vect` with a signature Julia widens to
    # `Vararg{Any}`, which cannot be compiled ahead into a system image.
    data_syst = Pair{String,SystematicsTable}["antikt04 Float64" => run_data_systematics(s64),
                                              "antikt04 Float32" => run_data_systematics(s32)]

    toy64 = run_toy_fits(Float64, cfg)
    toy32 = run_toy_fits(Float32, cfg; full=false)
    bigf = run_bigfloat(cfg, toy64)
    special = special_function_checks()
    syst64 = run_systematics(toy64.reference, toy64.data, cfg)
    syst32 = run_systematics(toy32.reference, toy32.data, cfg)
    boot = run_bootstrap(toy64.reference, toy64.data, cfg)
    prop64 = run_propagation(toy64.reference, cfg)
    comb = run_combination(toy64, syst64)

    report = build_report((cfg=cfg, chain_lines=length(lines), chain_hash=fnv1a(chain),
                           chain_excerpt=excerpt, toy64=toy64, toy32=toy32, bigfloat=bigf,
                           special=special, syst64=syst64, syst32=syst32, boot=boot,
                           prop64=prop64, comb=comb, data=data,
                           data_syst=data_syst))
    println(io)
    write_report(io, report, TextFormat())
    println(io)
    json = ""
    for (name, fmt) in ("markdown" => MarkdownFormat(), "csv" => CSVFormat(),
                        "latex" => LaTeXFormat(), "json" => JSONFormat())
        s = report_string(report, fmt)
        name == "json" && (json = s)
        println(io, "report as ", rpad(name, 8), ": ", lpad(count(==('\n'), s), 4), " lines, ",
                lpad(sizeof(s), 6), " bytes, fnv1a ", fnv1a(s))
    end
    parsed = parse_json(json)
    ok = parsed["title"] == report.title && length(parsed["sections"]) == length(report.sections)
    println(io, "json round trip: ", ok ? "ok" : "MISMATCH", " (", length(parsed["sections"]),
            " sections)")
    report
end
