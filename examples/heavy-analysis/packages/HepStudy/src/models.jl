# The toy truth and the catalogue of models fitted to it.  The truth has a
# double-Gaussian signal, so every single-peak model is an approximation,
# as in real life, and the spread of their results is a genuine
# model systematic.

"""
    toy_truth(cfg)

Signal (narrow + wide Gaussian, 22% of events) on an exponential
background in [cfg.lo, cfg.hi].
"""
function toy_truth(cfg::StudyConfig)
    sig = Mixture(Gaussian(400.0, 22.0), Gaussian(395.0, 60.0); fractions=[0.75],
                  names=["core", "tail"])
    Mixture(sig, Exponential(-0.0055; origin=cfg.lo); fractions=[0.22], names=["sig", "bkg"])
end

_bkg_exp(cfg) = Exponential(-0.004; origin=cfg.lo)

"""
    model_catalogue(cfg)

Named starting models for the unbinned fits, deliberately started away
from the truth.  A tuple, so each model keeps its concrete type.
"""
model_catalogue(cfg::StudyConfig) = (
    "gauss+exp" => Mixture(Gaussian(385.0, 30.0), _bkg_exp(cfg); fractions=[0.15],
                           names=["sig", "bkg"]),
    "cb+exp" => Mixture(CrystalBall(385.0, 30.0, 1.5, 5.0), _bkg_exp(cfg); fractions=[0.15],
                        names=["sig", "bkg"]),
    "bw+cheb2" => Mixture(BreitWigner(385.0, 60.0), Chebyshev((-0.6, 0.2); lo=cfg.lo, hi=cfg.hi);
                          fractions=[0.15], names=["sig", "bkg"]),
    "gauss+dijet" => Mixture(Gaussian(385.0, 30.0), DijetFunction(8.0, 2.0, 0.0; sqrts=4000.0);
                             fractions=[0.15], names=["sig", "bkg"]),
    "moyal+exp" => Mixture(Moyal(385.0, 25.0), _bkg_exp(cfg); fractions=[0.15],
                           names=["sig", "bkg"]),
    "2gauss+exp" => Mixture(Mixture(Gaussian(385.0, 25.0), Gaussian(395.0, 70.0); fractions=[0.7],
                                    names=["core", "tail"]),
                            _bkg_exp(cfg); fractions=[0.15], names=["sig", "bkg"]),
)

"""
    extended_model(cfg, n)

Signal and background yields for the extended fits.
"""
extended_model(cfg::StudyConfig, n::Integer) =
    Extended(Gaussian(385.0, 30.0), _bkg_exp(cfg); yields=[0.15n, 0.85n], names=["sig", "bkg"])

"""
    fit_steps(names, values)

Expected error scales per parameter, from the parameter's role (its
name).  Good steps make the first BFGS iterations and the final Hessian
well conditioned.
"""
function fit_steps(names::AbstractVector{<:AbstractString}, values::AbstractVector)
    d = Dict{String,Float64}()
    for (n, v) in zip(names, values)
        d[n] = if _isposition(n)
            3.0
        elseif _iswidth(n)
            3.0
        elseif endswith(n, "slope")
            3e-4
        elseif startswith(n, "frac_")
            0.02
        elseif startswith(n, "n_")
            max(sqrt(abs(Float64(v))), 1.0)
        elseif endswith(n, "alpha")
            0.2
        elseif endswith(n, ".n")
            1.0
        elseif occursin(r"\.c\d+$", n)
            0.05
        elseif occursin(r"\.p\d$", n)
            0.5
        else
            0.1 * max(abs(Float64(v)), 1e-3)
        end
    end
    d
end

fit_steps(m::AbstractShape) = fit_steps(parnames(m), parvalues(m))

"""
    fit_bounds(m)

Physical ranges for the signal parameters, keeping fits out of regions
where the signal would swallow the background.
"""
function fit_bounds(m::AbstractShape)
    d = Dict{String,Tuple{Float64,Float64}}()
    for n in parnames(m)
        if _isposition(n)
            d[n] = (300.0, 500.0)
        elseif _iswidth(n)
            d[n] = n == "sig.tail.sigma" ? (30.0, 200.0) : (5.0, 150.0)
        end
    end
    d
end
