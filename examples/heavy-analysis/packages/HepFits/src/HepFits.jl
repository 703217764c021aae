"""
    HepFits

Maximum-likelihood and least-squares fits of one-dimensional spectra, written
from scratch so that every piece (special functions, quadrature, linear
algebra, numerical derivatives, minimizers) is generic over the element type:
the same fit runs in `Float32`, `Float64` or `BigFloat`.

* shapes: [`Gaussian`](@ref), [`CrystalBall`](@ref), [`Exponential`](@ref),
  [`Chebyshev`](@ref), [`BreitWigner`](@ref), [`Moyal`](@ref),
  [`DijetFunction`](@ref), combined with [`Mixture`](@ref) (fractions) or
  [`Extended`](@ref) (yields);
* objectives: [`UnbinnedNLL`](@ref), [`ExtendedNLL`](@ref),
  [`BinnedNLL`](@ref), [`Chi2`](@ref);
* minimizers: [`Newton`](@ref) (damped, numerical Hessian), [`BFGS`](@ref),
  [`NelderMead`](@ref), and [`Hybrid`](@ref) chains of them.

Entry point: [`fit`](@ref), returning a [`FitResult`](@ref).
"""
module HepFits

using Printf
using Random

export erf_generic, erfc_generic, normcdf, loggamma_generic, gamma_p, chi2_pvalue,
       gauss_legendre, integrate,
       cholesky_lower, cholesky_solve, spd_inverse, solve_linear, matmul, quadform,
       AbstractShape, Gaussian, CrystalBall, Exponential, Chebyshev, BreitWigner, Moyal,
       DijetFunction, Mixture, Extended, nparams, parnames, parvalues, parbounds,
       withparams, density, shape_integral, prepare, logpdf, pdf, prob, components,
       coefficients, total_yield, sample, sample!, convert_shape,
       AbstractObjective, UnbinnedNLL, ExtendedNLL, BinnedNLL, Chi2, errordef, ndata,
       objective_model,
       numgrad, numgrad!, numhessian,
       AbstractMinimizer, Newton, BFGS, NelderMead, Hybrid, minimize, MinResult,
       ParTransform, FitResult, fit, refit, parameter, parerror, correlation_matrix,
       profile_scan, likelihood_ratio, significance, goodness_of_fit, bestfit_model,
       KahanSum, ksum, component_pdf, expected_counts

include("special.jl")
include("quadrature.jl")
include("linalg.jl")
include("shapes.jl")
include("composite.jl")
include("sampling.jl")
include("objectives.jl")
include("derivatives.jl")
include("minimizers.jl")
include("fit.jl")

end # module
