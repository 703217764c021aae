# Assemble everything into one HepReport document.
#
# The tables' columns are typed literals, `Column[...]`: columns with
# different formatters have different types (`Column{Fixed}`,
# `Column{Sci}`, ...), and an untyped literal of them calls `Base.vect`
# with a signature Julia widens to `Vararg{Any}`, which cannot be compiled
# ahead into a system image.

# A fixed parameter has no error: show the value it was held at.
function _pm_or_fixed(t::Tuple{Float64,Float64})
    isnan(t[1]) && return "-"
    iszero(t[2]) ? string(format_sig(t[1], 4), " (fixed)") : format_pm(t[1], t[2])
end

function fit_table(title::AbstractString, rows::AbstractVector{FitSummary})
    t = Table(Column[Column("model"; align=:left), Column("objective"; align=:left),
                     Column("precision"; align=:left), Column("method"; align=:left),
                     Column("ok"), Column("mean"; unit="GeV", format=_pm_or_fixed),
                     Column("width"; unit="GeV", format=_pm_or_fixed),
                     Column("signal"; format=_pm_or_fixed), Column("fval"; format=Fixed(3)),
                     Column("edm"; format=Sci(2)), Column("calls"), Column("gof")];
              title=title)
    for s in rows
        addrow!(t, s.label, s.objective, s.precision, s.method, s.converged, s.position,
                s.width, s.signal, s.fval, s.edm, s.ncalls, s.gof)
    end
    t
end

function precision_table(t64::ToyFitResults{Float64}, t32::ToyFitResults{Float32})
    t = Table(Column[Column("model"; align=:left), Column("objective"; align=:left),
                     Column("|dmean|/sigma"; format=Sci(2)),
                     Column("|dfval|"; format=Sci(2)), Column("both converged")];
              title="Float32 against Float64, same fits")
    for b in t32.summaries
        k = findfirst(a -> (a.label, a.objective, a.method) == (b.label, b.objective, b.method),
                      t64.summaries)
        k === nothing && continue
        a = t64.summaries[k]
        d = a.position[2] > 0 ? abs(b.position[1] - a.position[1]) / a.position[2] : 0.0
        addrow!(t, a.label, a.objective, d, abs(b.fval - a.fval), a.converged && b.converged)
    end
    t
end

function scan_table(toy::ToyFitResults)
    t = Table(Column[Column("sig.mean"; unit="GeV", format=Fixed(2)),
                     Column("2 dNLL"; format=Fixed(3))];
              title=string("profile of the signal mass, ", precision_name(eltype(toy.data))))
    for (g, s) in zip(toy.scan_grid, toy.scan)
        addrow!(t, Float64(g), Float64(s))
    end
    t
end

function syst_table(tab::SystematicsTable)
    cols = Column[Column("source"; align=:left)]
    for q in tab.quantities
        push!(cols, Column(q * " up"; format=SigDigits(3)))
        push!(cols, Column(q * " down"; format=SigDigits(3)))
    end
    t = Table(cols; title=string("shifts from nominal, ", precision_name(eltype(tab.nominal))))
    for s in 1:nsources(tab)
        cells = Any[tab.sources[s]]
        for q in eachindex(tab.quantities)
            push!(cells, Float64(tab.up[s, q]), Float64(tab.down[s, q]))
        end
        addrow!(t, cells...)
    end
    cells = Any["total (quadrature)"]
    up, dn = total_up(tab), total_down(tab)
    for q in eachindex(tab.quantities)
        push!(cells, Float64(up[q]), -Float64(dn[q]))
    end
    addrow!(t, cells...)
    t
end

function bootstrap_table(ref::FitResult, b::BootstrapResult)
    t = Table(Column[Column("parameter"; align=:left), Column("fit"),
                     Column("hessian error"; format=SigDigits(3)),
                     Column("bootstrap error"; format=SigDigits(3)), Column("68% interval"; align=:left)];
              title=string(nreplicas(b), " Poisson-bootstrap replicas"))
    be = bootstrap_errors(b)
    for (q, p) in enumerate(SIGNAL_PARS)
        lo, hi = percentile_interval(b, q)
        addrow!(t, p, (Float64(parameter(ref, p)), Float64(parerror(ref, p))), Float64(parerror(ref, p)),
                Float64(be[q]), string("[", format_sig(lo, 4), ", ", format_sig(hi, 4), "]"))
    end
    t
end

function propagation_table(tp::ToyPropagation)
    t = Table(Column[Column("quantity"; align=:left), Column("linear"), Column("toys")];
              title=string("fit covariance propagated (", tp.ntoys, " toys)"))
    for (i, n) in enumerate(DERIVED)
        addrow!(t, n, (Float64(tp.linear_value[i]), sqrt(Float64(tp.linear_cov[i, i]))),
                (Float64(tp.toy_mean[i]), sqrt(Float64(tp.toy_cov[i, i]))))
    end
    t
end

function combination_table(labels, vals, errs, blue::BLUEResult)
    t = Table(Column[Column("model"; align=:left), Column("mean"; unit="GeV"),
                     Column("BLUE weight"; format=Fixed(3))];
              title="signal mass, BLUE combination")
    for i in eachindex(labels)
        addrow!(t, labels[i], (Float64(vals[i]), Float64(errs[i])), Float64(blue.weights[i]))
    end
    addrow!(t, "combined", (Float64(blue.value), Float64(blue.error)), 1.0)
    t
end

function data_table(fits::AbstractVector)
    t = Table(Column[Column("sample"; align=:left), Column("precision"; align=:left), Column("selected"),
                     Column("resonance"), Column("mean"; unit="GeV"), Column("sigma"; unit="GeV"),
                     Column("frac_sig"), Column("Z"; format=Fixed(2)),
                     Column("hist chi2 fit"; align=:left)];
              title="dijet masses from the generated events")
    for d in fits
        s = d.sample
        r = d.signal
        hf = d.histogram_fit === nothing ? "-" :
             string("mean ", format_pm(Float64(parameter(d.histogram_fit, "sig.mean")),
                                       Float64(parerror(d.histogram_fit, "sig.mean"))),
                    ", chi2/ndf ", let g = goodness_of_fit(d.histogram_fit)
                        string(format_sig(g[1], 3), "/", g[2])
                    end)
        addrow!(t, s.name, precision_name(eltype(s.mjj)), length(s), count(s.resonance),
                (Float64(parameter(r, "sig.mean")), Float64(parerror(r, "sig.mean"))),
                (Float64(parameter(r, "sig.sigma")), Float64(parerror(r, "sig.sigma"))),
                (Float64(parameter(r, "frac_sig")), Float64(parerror(r, "frac_sig"))),
                Float64(d.significance), hf)
    end
    t
end

function data_syst_table(name::AbstractString, tab::SystematicsTable)
    t = syst_table(tab)
    Table(string(name, ": ", t.title), t.columns, t.rows)
end

function special_table(checks)
    t = Table(Column[Column("function"; align=:left), Column("Float32 rel. dev."; format=Sci(2)),
                     Column("Float64 rel. dev."; format=Sci(2))];
              title=string("worst deviation from BigFloat(", precision(BigFloat), ")"))
    for (n, (a, b)) in checks
        addrow!(t, n, a, b)
    end
    t
end

function bigfloat_values(bf)
    r64, rb = bf.unbinned64, bf.unbinned_big
    b64, bb = bf.binned_start, bf.binned_big
    KeyValues("unbinned events" => ndata(rb.objective),
              "sig.mean Float64" => format_sig(r64.values[1], 17),
              "sig.mean BigFloat" => format_sig(rb.values[1], 30),
              "sig.mean agreement" => format_sci(Float64(abs(rb.values[1] - r64.values[1]) / abs(rb.values[1])), 2),
              "BigFloat fit" => string(rb.converged ? "converged" : "not converged", ", edm ",
                                       format_sci(rb.edm, 2), ", ", rb.ncalls, " calls"),
              "bw+cheb2 binned mass Float64" => format_sig(b64.values[1], 17),
              "bw+cheb2 binned mass BigFloat" => format_sig(bb.values[1], 30),
              "bw+cheb2 BigFloat fit" => string(bb.converged ? "converged" : "not converged", ", edm ",
                                                format_sci(bb.edm, 2)))
end

"""
    build_report(parts)

The study report from the named tuple of results assembled by
[`heavy_example`](@ref).
"""
function build_report(p)
    cfg = p.cfg
    r = Report("HepStudy: dijet resonance study"; events=cfg.nevents, seed=cfg.seed,
               toy_events=cfg.ntoy, toy_seed=cfg.toy_seed,
               fit_range=string("[", cfg.lo, ", ", cfg.hi, "] GeV"))
    s = addsection!(r, "Analysis chain (HepAnalysis.run_example)")
    addblock!(s, KeyValues("output lines" => p.chain_lines, "output checksum" => p.chain_hash))
    addblock!(s, Preformatted(join(p.chain_excerpt, "\n")))

    s = addsection!(r, "Toy fits")
    addblock!(s, Paragraph(string("One toy sample of ", cfg.ntoy,
                                  " events per precision, the same seed for both.")))
    addblock!(s, fit_table("Float64", p.toy64.summaries))
    addblock!(s, fit_table("Float32", p.toy32.summaries))
    addblock!(s, precision_table(p.toy64, p.toy32))

    s = addsection!(r, "Significance and profile")
    addblock!(s, KeyValues("Z Float64 (extended, 1 dof)" => Float64(p.toy64.significance),
                           "Z Float32 (extended, 1 dof)" => Float64(p.toy32.significance)))
    addblock!(s, scan_table(p.toy64))
    addblock!(s, scan_table(p.toy32))

    s = addsection!(r, "BigFloat")
    addblock!(s, bigfloat_values(p.bigfloat))
    addblock!(s, special_table(p.special))

    s = addsection!(r, "Systematics")
    addblock!(s, syst_table(p.syst64))
    addblock!(s, syst_table(p.syst32))
    addblock!(s, bootstrap_table(p.toy64.reference, p.boot))
    addblock!(s, propagation_table(p.prop64))
    addblock!(s, combination_table(p.comb...))
    blue = p.comb[4]
    addblock!(s, KeyValues("combination chi2/ndf" => string(format_sig(blue.chi2, 3), "/", blue.ndf)))

    s = addsection!(r, "Generated dijet events")
    addblock!(s, data_table(p.data))
    for (name, tab) in p.data_syst
        addblock!(s, data_syst_table(name, tab))
    end
    r
end
