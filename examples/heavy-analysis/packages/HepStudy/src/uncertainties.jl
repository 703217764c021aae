# Systematic variations, bootstrap, propagation and combination around the
# reference toy fit (Gaussian + exponential, unbinned).

const SIGNAL_PARS = ["sig.mean", "sig.sigma", "frac_sig"]

"""
    toy_systematics(cfg)

The sources applied to the toy sample: jet energy scale (±1%),
resolution (3% extra smearing), a background tilt (±10% per pivot
distance), and a 4% inefficiency above 450 GeV.
"""
toy_systematics() = (
    Systematic("energy scale", ScaleShift("jes_up", 0.01), ScaleShift("jes_down", -0.01)),
    Systematic("resolution", Smearing("jer", 0.03; seed=11)),
    Systematic("background tilt", WeightTilt("tilt_up", 0.10, 600.0), WeightTilt("tilt_down", -0.10, 600.0)),
    Systematic("efficiency", EfficiencyLoss("eff", 0.04; seed=13, threshold=450.0)),
    Systematic("scale+resolution", Chain(ScaleShift("jes_up", 0.01), Smearing("jer", 0.03; seed=17))),
)

"""
    run_systematics(ref, cfg)

Refit the reference model on every variation of the toy sample (weighted
unbinned likelihood, warm-started from the nominal result) and tabulate
the shifts of the signal parameters.
"""
function run_systematics(ref::FitResult{T}, x::AbstractVector{T}, cfg::StudyConfig) where {T}
    model = ref.model
    steps = fit_steps(model)
    bounds = fit_bounds(model)
    measure = function (xv, wv)
        o = UnbinnedNLL(model, xv; lo=cfg.lo, hi=cfg.hi, weights=wv)
        r = refit(ref, o; steps=steps, bounds=bounds)
        T[parameter(r, p) for p in SIGNAL_PARS]
    end
    evaluate_systematics(measure, x, ones(T, length(x)), toy_systematics(); quantities=SIGNAL_PARS)
end

"""
    run_bootstrap(ref, x, cfg)

Poisson bootstrap of the reference fit: each replica refits with Poisson
weights.  The spread should match the Hessian errors.
"""
function run_bootstrap(ref::FitResult{T}, x::AbstractVector{T}, cfg::StudyConfig) where {T}
    model = ref.model
    steps = fit_steps(model)
    bounds = fit_bounds(model)
    stat = function (xv, wv)
        o = UnbinnedNLL(model, xv; lo=cfg.lo, hi=cfg.hi, weights=wv)
        r = refit(ref, o; method=BFGS(), steps=steps, bounds=bounds)
        T[parameter(r, p) for p in SIGNAL_PARS]
    end
    poisson_bootstrap(stat, MersenneTwister(cfg.toy_seed + 100), x, ones(T, length(x));
                      nrep=cfg.nboot)
end

"""
    derived_quantities(θ, cfg)

From (mean, sigma, frac, slope): signal events in mean ± 2σ, background
events there, S/√B and the relative resolution σ/mean.
"""
function derived_quantities(θ::AbstractVector{T}, cfg::StudyConfig, ntot::Integer) where {T}
    μ, σ, f, λ = θ[1], θ[2], θ[3], θ[4]
    lo, hi = T(cfg.lo), T(cfg.hi)
    sig = Gaussian(μ, σ)
    bkg = Exponential(λ; origin=cfg.lo)
    a, b = μ - 2σ, μ + 2σ
    S = f * ntot * shape_integral(sig, a, b) / shape_integral(sig, lo, hi)
    B = (1 - f) * ntot * shape_integral(bkg, a, b) / shape_integral(bkg, lo, hi)
    T[S, B, S / sqrt(B), σ / μ]
end

const DERIVED = ["S (2 sigma)", "B (2 sigma)", "S/sqrt(B)", "sigma/mean"]

"""
    run_propagation(ref, cfg)

Propagate the fit covariance of (mean, sigma, frac, slope) to the derived
quantities, linearly and with toys.
"""
function run_propagation(ref::FitResult{T}, cfg::StudyConfig) where {T}
    names = ["sig.mean", "sig.sigma", "frac_sig", "bkg.slope"]
    idx = [findfirst(==(n), ref.names) for n in names]
    θ = ref.values[idx]
    C = ref.cov[idx, idx]
    n = ndata(ref.objective)
    toy_propagate(v -> derived_quantities(v, cfg, n), MersenneTwister(cfg.toy_seed + 200), θ, C;
                  ntoys=cfg.ntoyprop)
end

"""
    run_combination(toy, syst)

BLUE combination of the signal mass measured by the unbinned fits of all
models: statistical errors from each fit, a common systematic (fully
correlated) from the variation table, and the correlation between models
(which share the same events) taken as 0.6.
"""
function run_combination(toy::ToyFitResults{T}, syst::SystematicsTable{T}) where {T}
    labels = String[]
    vals = T[]
    errs = T[]
    for (label, r) in toy.unbinned
        i = findfirst(_isposition, r.names)
        (r.converged && r.covok) || continue
        push!(labels, label)
        push!(vals, r.values[i])
        push!(errs, r.errors[i])
    end
    s = total_symmetric(syst)[1]
    n = length(vals)
    C = [T(i == j ? 1 : 0.6) * errs[i] * errs[j] + s^2 for i in 1:n, j in 1:n]
    labels, vals, errs, combine_blue(vals, C)
end
