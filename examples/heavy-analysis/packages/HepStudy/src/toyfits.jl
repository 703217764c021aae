# The toy fit battery.  Every (model, objective, minimizer, precision)
# combination is a distinct concrete type, so each compiles its own
# specialised likelihood and minimizer: this is where the JIT earns its
# keep in a cold run.

const DEFAULT_METHOD = Hybrid(BFGS(), Newton())

"""
    fit_fixed(m)

Parameters held constant for a model: the tail of the double Gaussian
(mean and width) is not resolvable from the core with a thousand events,
nor the dijet function's log² term from its other two.
"""
function fit_fixed(m::AbstractShape)
    d = Dict{String,Float64}()
    names = parnames(m)
    if "sig.tail.mean" in names
        d["sig.tail.mean"] = 395.0
        d["sig.tail.sigma"] = 60.0
    end
    # The third dijet-function term is degenerate with the other two over
    # a range this short.
    "bkg.p3" in names && (d["bkg.p3"] = 0.0)
    d
end

function fit_unbinned(model::AbstractShape, x::AbstractVector{T}, lo, hi;
                      method::AbstractMinimizer=DEFAULT_METHOD) where {T}
    o = UnbinnedNLL(model, x; lo=lo, hi=hi)
    fit(o; method=method, steps=fit_steps(model), bounds=fit_bounds(model), fix=fit_fixed(model))
end

function fit_binned(model::AbstractShape, h::Hist1D; chi2::Bool=false,
                    method::AbstractMinimizer=DEFAULT_METHOD)
    edges, counts, errs = histogram_arrays(h)
    o = chi2 ? Chi2(model, edges, counts, errs) : BinnedNLL(model, edges, counts)
    fit(o; method=method, steps=fit_steps(model), bounds=fit_bounds(model), fix=fit_fixed(model))
end

"""
    ToyFitResults{T}

Everything the toy battery produced in precision `T`.
"""
struct ToyFitResults{T<:AbstractFloat}
    data::Vector{T}
    summaries::Vector{FitSummary}
    reference::FitResult            # gauss+exp, unbinned: input to the systematics
    unbinned::Vector{Pair{String,FitResult}}
    extended::FitResult
    background_only::FitResult
    significance::T
    scan_grid::Vector{T}
    scan::Vector{T}
end

_fit_catalogue(::Tuple{}, x, cfg, out) = out
function _fit_catalogue(cat::Tuple, x, cfg, out)
    label, model = first(cat)
    push!(out, label => fit_unbinned(model, x, cfg.lo, cfg.hi))
    _fit_catalogue(Base.tail(cat), x, cfg, out)
end

"""
    run_toy_fits(T, cfg)

Draw the toy sample (same seed for every precision) and fit it with each
model unbinned, two of them binned, one by χ², one extended against
its background-only hypothesis, one with a different minimizer chain,
and profile the signal mass.
"""
function run_toy_fits(::Type{T}, cfg::StudyConfig; full::Bool=true) where {T<:AbstractFloat}
    rng = MersenneTwister(cfg.toy_seed)
    x = sample(rng, toy_truth(cfg), cfg.lo, cfg.hi, cfg.ntoy; T=T)
    cat = model_catalogue(cfg)
    summaries = FitSummary[]
    unb = full ? _fit_catalogue(cat, x, cfg, Pair{String,FitResult}[]) :
          _fit_catalogue((cat[1],), x, cfg, Pair{String,FitResult}[])
    for (label, r) in unb
        push!(summaries, summarize_fit(label, r))
    end
    ref = unb[1].second

    h = toy_histogram(T, x, cfg.lo, cfg.hi, cfg.nbins)
    push!(summaries, summarize_fit("gauss+exp", fit_binned(cat[1].second, h)))
    if full
        nm = fit_unbinned(cat[1].second, x, cfg.lo, cfg.hi;
                          method=Hybrid(NelderMead(), BFGS(), Newton()))
        push!(summaries, summarize_fit("gauss+exp", nm))
        push!(summaries, summarize_fit("gauss+exp", fit_binned(cat[1].second, h; chi2=true)))
        newton = fit_binned(cat[3].second, h; method=Newton())
        push!(summaries, summarize_fit("bw+cheb2", newton))
    end

    ext = extended_model(cfg, length(x))
    oe = ExtendedNLL(ext, x; lo=cfg.lo, hi=cfg.hi)
    re = fit(oe; steps=fit_steps(ext), bounds=fit_bounds(ext))
    push!(summaries, summarize_fit("gauss+exp", re))
    null = fit(oe; fix=Dict("n_sig" => 0.0, "sig.mean" => Float64(parameter(re, "sig.mean")),
                            "sig.sigma" => Float64(parameter(re, "sig.sigma"))),
               steps=fit_steps(ext))
    push!(summaries, summarize_fit("exp only", null))
    Z = significance(null, re)

    μ, σ = parameter(ref, "sig.mean"), parerror(ref, "sig.mean")
    grid = T[μ + k * σ for k in -2:2]
    scan = profile_scan(ref, "sig.mean", grid; fix=fit_fixed(ref.model))
    ToyFitResults{T}(x, summaries, ref, unb, re, null, Z, grid, scan)
end

"""
    run_bigfloat(cfg, toy64)

Refit the first `cfg.nbig` toy events in [cfg.big_lo, cfg.big_hi] in
BigFloat (`cfg.bigprecision` bits) with Newton's method,
starting from the Float64 optimum on the same events, and a binned
Breit-Wigner + Chebyshev fit likewise: how many digits of the Float64
answer were right.
"""
function run_bigfloat(cfg::StudyConfig, toy::ToyFitResults{Float64})
    setprecision(() -> _run_bigfloat(cfg, toy), BigFloat, cfg.bigprecision)
end

function _run_bigfloat(cfg::StudyConfig, toy::ToyFitResults{Float64})
    # The first events inside a window around the peak, where a few dozen
    # events still determine all four parameters.
    model = first(model_catalogue(cfg)).second
    lo, hi = cfg.big_lo, cfg.big_hi
    sub = filter(v -> lo <= v <= hi, toy.data)
    sub = sub[1:min(cfg.nbig, length(sub))]
    r64 = fit_unbinned(model, sub, lo, hi)
    ob = UnbinnedNLL(model, BigFloat.(sub); lo=lo, hi=hi)
    rb = fit(ob; method=Newton(), start=BigFloat.(r64.values), steps=fit_steps(model),
             bounds=fit_bounds(model))

    # Binned Breit-Wigner + Chebyshev in coarser bins: Float64 first, then
    # BigFloat Newton from there.
    cheb = model_catalogue(cfg)[3].second
    h64 = toy_histogram(Float64, toy.data, cfg.lo, cfg.hi, cfg.nbins ÷ 2)
    rb64 = fit_binned(cheb, h64; method=Newton())
    e, c, _ = histogram_arrays(h64)
    obb = BinnedNLL(cheb, BigFloat.(e), BigFloat.(c))
    rbb = fit(obb; method=Newton(), start=BigFloat.(rb64.values), steps=fit_steps(cheb),
              bounds=fit_bounds(cheb))
    (unbinned64=r64, unbinned_big=rb, binned_start=rb64, binned_big=rbb)
end

"""
    special_function_checks()

The generic special functions and quadrature in three precisions against
each other: the largest relative deviation of Float32 and Float64 from the
BigFloat values.
"""
function special_function_checks()
    xs = [-3.5, -1.2, -0.3, 0.0, 0.4, 1.1, 2.2, 2.7, 4.0, 6.5]
    out = Pair{String,Tuple{Float64,Float64}}[]
    push!(out, "erf" => _check(erf_generic, xs))
    push!(out, "erfc" => _check(erfc_generic, xs))
    push!(out, "normcdf" => _check(normcdf, xs))
    push!(out, "loggamma" => _check(loggamma_generic, abs.(xs) .+ 0.5))
    push!(out, "gamma_p(3,x)" => _check(x -> gamma_p(oftype(x, 3), abs(x)), xs[2:end]))
    push!(out, "gauss integral" => _check(x -> integrate(t -> exp(-t * t / 2), -abs(x) - 1, abs(x) + 1), xs))
    out
end

function _check(f, xs::Vector{Float64})
    w32 = 0.0
    w64 = 0.0
    for x in xs
        ref = f(BigFloat(x))
        iszero(ref) && continue
        w32 = max(w32, Float64(abs((BigFloat(f(Float32(x))) - ref) / ref)))
        w64 = max(w64, Float64(abs((BigFloat(f(x)) - ref) / ref)))
    end
    (w32, w64)
end
