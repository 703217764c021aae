"""
    HepSystematics

Systematic uncertainties for binned and unbinned measurements: named
variations of the input data (scale shifts, smearing, re-weighting,
efficiency losses), evaluation of any measurement under each variation,
bootstrap and jackknife resampling for statistical errors, and linear and
toy-based propagation of covariance matrices to derived quantities,
including a BLUE combination of correlated measurements.

Everything is generic over the element type; random variations take their
own seeds, so a study gives identical numbers on every run.
"""
module HepSystematics

using Random
using HepFits: cholesky_lower, spd_inverse, matmul, quadform, KahanSum

export AbstractVariation, Nominal, ScaleShift, Smearing, WeightTilt, EfficiencyLoss, Chain,
       apply, label, Systematic, SystematicsTable, evaluate_systematics, symmetrized,
       total_up, total_down, total_symmetric, syst_covariance, relative_shifts, nsources,
       BootstrapResult, bootstrap, poisson_bootstrap, bootstrap_errors, nreplicas, bias, jackknife, percentile_interval,
       sample_covariance, sample_correlation, weighted_mean_var, quantile_sorted,
       jacobian, propagate, sample_mvn, toy_propagate, ToyPropagation, combine_blue,
       BLUEResult, total_covariance

include("variations.jl")
include("table.jl")
include("resampling.jl")
include("propagation.jl")

end # module
