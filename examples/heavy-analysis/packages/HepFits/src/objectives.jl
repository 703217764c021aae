# Fit objectives.  Each is a callable taking the full parameter vector of
# its model and returning a value to minimise, computed in the precision of
# its data.  A parameter point where the model cannot be evaluated returns
# +Inf, never NaN, so that line searches simply step back.

"""
    AbstractObjective{T}

Callable `obj(θ)`.  Interface: `objective_model(obj)` (template shape whose
parameters are the starting values), `errordef(obj)` (the change in the
objective that defines one standard deviation: 1/2 for negative
log-likelihoods, 1 for χ²) and `ndata(obj)`.
"""
abstract type AbstractObjective{T<:AbstractFloat} end

Base.eltype(::AbstractObjective{T}) where {T} = T
objective_model(o::AbstractObjective) = o.model
errordef(::AbstractObjective{T}) where {T} = one(T) / 2

_finite(v::T) where {T} = isfinite(v) ? v : T(Inf)

"""
    UnbinnedNLL(model, x; lo, hi, weights=nothing)

-Σ wᵢ log p(xᵢ) with p the model normalised on [lo, hi].  Values outside
the range are dropped when the objective is built.
"""
struct UnbinnedNLL{T,M<:AbstractShape{T}} <: AbstractObjective{T}
    model::M
    x::Vector{T}
    w::Vector{T}
    lo::T
    hi::T
    weighted::Bool
end

function _select(x::AbstractVector, w, lo, hi, ::Type{T}) where {T}
    keep = [i for i in eachindex(x) if lo <= x[i] <= hi]
    xs = T[x[i] for i in keep]
    ws = w === nothing ? ones(T, length(keep)) : T[w[i] for i in keep]
    xs, ws
end

function UnbinnedNLL(model::AbstractShape, x::AbstractVector{T}; lo::Real, hi::Real,
                     weights::Union{Nothing,AbstractVector{<:Real}}=nothing) where {T<:AbstractFloat}
    xs, ws = _select(x, weights, lo, hi, T)
    m = convert_shape(T, model)
    UnbinnedNLL{T,typeof(m)}(m, xs, ws, T(lo), T(hi), weights !== nothing)
end

ndata(o::UnbinnedNLL) = length(o.x)

function (o::UnbinnedNLL{T})(θ::AbstractVector{T}) where {T}
    p = prepare(withparams(o.model, θ), o.lo, o.hi)
    acc = KahanSum{T}()
    if o.weighted
        @inbounds for i in eachindex(o.x)
            acc += -o.w[i] * logpdf(p, o.x[i])
        end
    else
        @inbounds for i in eachindex(o.x)
            acc += -logpdf(p, o.x[i])
        end
    end
    _finite(sum(acc))
end

"""
    ExtendedNLL(model::Extended, x; lo, hi, weights=nothing)

ν - Σ wᵢ log(ν p(xᵢ)) with ν the total yield: the yields are fitted as
event counts with Poisson uncertainties.
"""
struct ExtendedNLL{T,M<:Extended{T}} <: AbstractObjective{T}
    model::M
    x::Vector{T}
    w::Vector{T}
    lo::T
    hi::T
end

function ExtendedNLL(model::Extended, x::AbstractVector{T}; lo::Real, hi::Real,
                     weights::Union{Nothing,AbstractVector{<:Real}}=nothing) where {T<:AbstractFloat}
    xs, ws = _select(x, weights, lo, hi, T)
    m = convert_shape(T, model)
    ExtendedNLL{T,typeof(m)}(m, xs, ws, T(lo), T(hi))
end

ndata(o::ExtendedNLL) = length(o.x)

function (o::ExtendedNLL{T})(θ::AbstractVector{T}) where {T}
    p = prepare(withparams(o.model, θ), o.lo, o.hi)
    ν = total_yield(p)
    ν > 0 || return T(Inf)
    lν = log(ν)
    acc = KahanSum(ν)
    @inbounds for i in eachindex(o.x)
        acc += -o.w[i] * (lν + logpdf(p, o.x[i]))
    end
    _finite(sum(acc))
end

"""
    BinnedNLL(model, edges, counts)

Poisson likelihood of binned counts, as the halved Baker-Cousins deviance
Σ (ν - n + n log(n/ν)): its minimum is about half the number of degrees of
freedom for a good fit, which `goodness_of_fit` uses.  A non-extended model
is scaled to the observed total; an `Extended` one predicts it.
"""
struct BinnedNLL{T,M<:AbstractShape{T}} <: AbstractObjective{T}
    model::M
    edges::Vector{T}
    counts::Vector{T}
    total::T
end

function BinnedNLL(model::AbstractShape, edges::AbstractVector{<:Real},
                   counts::AbstractVector{T}) where {T<:Real}
    F = float(T)
    length(edges) == length(counts) + 1 || throw(DimensionMismatch("need nbins+1 edges"))
    m = convert_shape(F, model)
    c = F.(counts)
    BinnedNLL{F,typeof(m)}(m, F.(edges), c, sum(c))
end

ndata(o::BinnedNLL) = count(!iszero, o.counts)

_scale(::AbstractShape, p, total) = total
_scale(::Extended, p, total) = total_yield(p)

function _expected!(ν::Vector{T}, model, edges::Vector{T}, total::T) where {T}
    p = prepare(model, first(edges), last(edges))
    s = _scale(model, p, total)
    for b in eachindex(ν)
        ν[b] = s * prob(p, edges[b], edges[b + 1])
    end
    ν
end

"""
    expected_counts(obj, θ)

Predicted bin contents of a binned objective at `θ`.
"""
expected_counts(o::AbstractObjective{T}, θ::AbstractVector{T}) where {T} =
    _expected!(Vector{T}(undef, length(o.counts)), withparams(o.model, θ), o.edges, o.total)

function (o::BinnedNLL{T})(θ::AbstractVector{T}) where {T}
    ν = expected_counts(o, θ)
    acc = KahanSum{T}()
    for b in eachindex(ν)
        n = o.counts[b]
        νb = ν[b]
        if !(νb > 0)
            n > 0 && return T(Inf)
            continue
        end
        acc += νb - n
        n > 0 && (acc += n * log(n / νb))
    end
    _finite(sum(acc))
end

"""
    Chi2(model, edges, counts, errors)

Σ ((n - ν)/σ)² over bins with σ > 0: the least-squares fit of weighted
histograms, whose bin errors are not Poisson.
"""
struct Chi2{T,M<:AbstractShape{T}} <: AbstractObjective{T}
    model::M
    edges::Vector{T}
    counts::Vector{T}
    errors::Vector{T}
    total::T
end

function Chi2(model::AbstractShape, edges::AbstractVector{<:Real}, counts::AbstractVector{T},
              errors::AbstractVector{<:Real}) where {T<:Real}
    F = float(T)
    length(edges) == length(counts) + 1 || throw(DimensionMismatch("need nbins+1 edges"))
    length(errors) == length(counts) || throw(DimensionMismatch("need one error per bin"))
    m = convert_shape(F, model)
    c = F.(counts)
    Chi2{F,typeof(m)}(m, F.(edges), c, F.(errors), sum(c))
end

ndata(o::Chi2) = count(e -> e > 0, o.errors)
errordef(::Chi2{T}) where {T} = one(T)

function (o::Chi2{T})(θ::AbstractVector{T}) where {T}
    ν = expected_counts(o, θ)
    acc = KahanSum{T}()
    for b in eachindex(ν)
        e = o.errors[b]
        e > 0 || continue
        r = (o.counts[b] - ν[b]) / e
        acc += r * r
    end
    _finite(sum(acc))
end
