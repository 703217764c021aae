"""
    StudyConfig(; kwargs...)

Knobs of the heavy example.  The defaults keep the compute of a compiled
run well under a second; all the cost of a cold run is compilation.
"""
Base.@kwdef struct StudyConfig
    nevents::Int = 150          # HepAnalysis events (as in the hep-analysis example)
    seed::Int = 20201           # HepAnalysis generator seed
    ntoy::Int = 1000            # toy events per precision
    toy_seed::Int = 7
    lo::Float64 = 200.0         # fit range of the toy study [GeV]
    hi::Float64 = 1000.0
    nbins::Int = 40             # binning of the binned toy fits
    nbig::Int = 40              # events in the BigFloat refit ...
    big_lo::Float64 = 300.0     # ... taken from this window
    big_hi::Float64 = 550.0
    bigprecision::Int = 128     # bits of the BigFloat refit
    nboot::Int = 10             # bootstrap replicas
    ntoyprop::Int = 400         # toys for covariance propagation
    data_lo::Float64 = 200.0    # fit range for dijet masses from the generator
    data_hi::Float64 = 800.0
end

"""
    fnv1a(s)

64-bit FNV-1a hash of a string's bytes: a stable checksum for output that
is too long to print (Julia's own `hash` may change between versions).
"""
function fnv1a(s::AbstractString)
    h = 0xcbf29ce484222325
    for b in codeunits(s)
        h = (h ⊻ b) * 0x00000100000001b3
    end
    string(h; base=16, pad=16)
end

# Spelled out rather than `string(T)`: printing a type dispatches on an
# abstract signature that a system image does not keep, so it would be
# compiled again on every run (the same reason as HepAnalysis'
# `precision_label`).
precision_name(::Type{Float64}) = "Float64"
precision_name(::Type{Float32}) = "Float32"
precision_name(::Type{BigFloat}) = string("BigFloat(", precision(BigFloat), ")")
precision_name(::Type{<:AbstractFloat}) = "AbstractFloat"

objective_label(::UnbinnedNLL) = "unbinned"
objective_label(::ExtendedNLL) = "extended"
objective_label(::BinnedNLL) = "binned"
objective_label(::Chi2) = "chi2"

"""
    FitSummary

One row of the fit tables: what was fitted, how, and the signal
parameters converted to Float64 for display.
"""
struct FitSummary
    label::String
    objective::String
    precision::String
    method::String
    converged::Bool
    position::Tuple{Float64,Float64}
    width::Tuple{Float64,Float64}
    signal::Tuple{Float64,Float64}
    fval::Float64
    edm::Float64
    ncalls::Int
    gof::String
end

_isposition(n) = endswith(n, ".mean") || endswith(n, ".mass") || endswith(n, ".mpv")
_iswidth(n) = endswith(n, ".sigma") || endswith(n, ".width")
_issignal(n) = n == "frac_sig" || n == "n_sig"

function _pick(r::FitResult, pred)
    i = findfirst(pred, r.names)
    i === nothing && return (NaN, NaN)
    (Float64(r.values[i]), Float64(r.errors[i]))
end

"""
    summarize_fit(label, r)

Reduce a fit result of any precision to a [`FitSummary`](@ref).
"""
function summarize_fit(label::AbstractString, r::FitResult{T}) where {T}
    chi2, ndf, p = goodness_of_fit(r)
    gof = isnan(chi2) ? "-" : string(format_sig(chi2, 4), "/", ndf, " p=", format_sig(p, 2))
    FitSummary(String(label), objective_label(r.objective), precision_name(T), sprint(show, r.method),
               r.converged, _pick(r, _isposition), _pick(r, _iswidth), _pick(r, _issignal),
               Float64(r.fval), Float64(r.edm), r.ncalls, gof)
end
