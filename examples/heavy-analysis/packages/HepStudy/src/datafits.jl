# Fits to what the event generator and the dijet analysis produced.  The
# samples are small (a few dozen selected events), so these fits are
# about exercising the machinery on real analysis output: unweighted
# unbinned fits of the dijet mass in each precision, and χ² fits of the
# weighted mjj histograms that HepAnalysis filled.

"""
    data_model(cfg)

Gaussian resonance on an exponential for the generator's dijet masses;
the generator's resonance sits at 400 GeV with a 30 GeV Breit-Wigner
width, smeared by clustering.
"""
data_model(cfg::StudyConfig) =
    Mixture(Gaussian(390.0, 35.0), Exponential(-0.005; origin=cfg.data_lo); fractions=[0.3],
            names=["sig", "bkg"])

data_bounds() = Dict("sig.mean" => (320.0, 480.0), "sig.sigma" => (10.0, 120.0))

"""
    DataFitResults{T}
"""
struct DataFitResults{T<:AbstractFloat}
    sample::DijetSample{T}
    signal::FitResult
    background_only::FitResult
    significance::T
    histogram_fit::Union{Nothing,FitResult}
end

"""
    run_data_fits(sample, hist, cfg)

Unbinned signal+background and background-only fits of the selected
dijet masses (unweighted: the generator's weights span orders of
magnitude and a weighted unbinned fit of a few dozen events would be
dominated by one of them), and a χ² fit of the weighted mjj histogram.
"""
function run_data_fits(s::DijetSample{T}, hist::Union{Nothing,Hist1D}, cfg::StudyConfig) where {T}
    model = data_model(cfg)
    o = UnbinnedNLL(model, s.mjj; lo=cfg.data_lo, hi=cfg.data_hi)
    steps = fit_steps(model)
    r = fit(o; steps=steps, bounds=data_bounds())
    null = fit(o; steps=steps, fix=Dict("frac_sig" => 0.0,
                                        "sig.mean" => Float64(parameter(r, "sig.mean")),
                                        "sig.sigma" => Float64(parameter(r, "sig.sigma"))))
    hf = nothing
    if hist !== nothing
        edges, counts, errs = histogram_arrays(hist)
        hm = Mixture(Gaussian(390.0, 35.0), Exponential(-0.008; origin=first(edges));
                     fractions=[0.2], names=["sig", "bkg"])
        oc = Chi2(hm, edges, counts, errs)
        hf = fit(oc; steps=fit_steps(hm), bounds=data_bounds())
    end
    DataFitResults{T}(s, r, null, significance(null, r), hf)
end
