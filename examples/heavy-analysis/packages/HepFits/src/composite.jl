# Sums of shapes.  Components are held in a tuple so that every mixture of
# concrete shapes is its own concrete type and the per-event loop of a fit
# compiles to straight-line code with no dynamic dispatch.

"""
    Mixture(components...; fractions, names)

Normalised sum Σ cᵢ pᵢ(x) of normalised components, with the coefficients
given by n-1 *recursive* fractions (c₁ = f₁, c₂ = (1-f₁) f₂, ...,
cₙ = Π(1-fₖ)): any fractions in [0, 1] give a valid density, so the fit
needs only box bounds.  Components may themselves be mixtures.
"""
struct Mixture{T,C<:Tuple} <: AbstractShape{T}
    components::C
    fractions::Vector{T}
    names::Vector{String}
end

# `Vararg{AbstractShape,N}` with `where N` makes Julia specialise on the
# number and types of the components.  For `components::AbstractShape...`
# it does not, the element type `T` below is then known only at run time,
# and `promote_type` and `T.(fractions)` are dispatched at run time to small
# methods that a system image holds without native code: every job would
# compile them.
function Mixture(components::Vararg{AbstractShape,N}; fractions::AbstractVector{<:Real},
                 names::AbstractVector{<:AbstractString}=["c$i" for i in 1:N]) where {N}
    n = length(components)
    length(fractions) == n - 1 || throw(ArgumentError("a mixture of $n shapes needs $(n - 1) fractions"))
    length(names) == n || throw(ArgumentError("need one name per component"))
    T = float(promote_type(map(eltype, components)..., eltype(fractions)))
    comps = map(c -> convert_shape(T, c), components)
    Mixture{T,typeof(comps)}(comps, T.(fractions), String.(names))
end

"""
    Extended(components...; yields, names)

Sum of components with absolute yields, for extended likelihood fits where
the number of events is itself Poisson distributed.
"""
struct Extended{T,C<:Tuple} <: AbstractShape{T}
    components::C
    yields::Vector{T}
    names::Vector{String}
end

# `Vararg{AbstractShape,N}`: see `Mixture`.
function Extended(components::Vararg{AbstractShape,N}; yields::AbstractVector{<:Real},
                  names::AbstractVector{<:AbstractString}=["c$i" for i in 1:N]) where {N}
    n = length(components)
    length(yields) == n || throw(ArgumentError("need one yield per component"))
    length(names) == n || throw(ArgumentError("need one name per component"))
    T = float(promote_type(map(eltype, components)..., eltype(yields)))
    comps = map(c -> convert_shape(T, c), components)
    Extended{T,typeof(comps)}(comps, T.(yields), String.(names))
end

const Composite{T} = Union{Mixture{T},Extended{T}}

components(m::Composite) = m.components
_ncomp_params(m::Composite) = sum(nparams, m.components)
nparams(m::Mixture) = _ncomp_params(m) + length(m.components) - 1
nparams(m::Extended) = _ncomp_params(m) + length(m.components)

function parnames(m::Mixture)
    out = String[]
    for (nm, c) in zip(m.names, m.components), p in parnames(c)
        push!(out, string(nm, ".", p))
    end
    for k in 1:(length(m.components) - 1)
        push!(out, string("frac_", m.names[k]))
    end
    out
end

function parnames(m::Extended)
    out = String[]
    for (nm, c) in zip(m.names, m.components), p in parnames(c)
        push!(out, string(nm, ".", p))
    end
    for nm in m.names
        push!(out, string("n_", nm))
    end
    out
end

function parvalues(m::Mixture{T}) where {T}
    out = T[]
    for c in m.components
        append!(out, parvalues(c))
    end
    append!(out, m.fractions)
end

function parvalues(m::Extended{T}) where {T}
    out = T[]
    for c in m.components
        append!(out, parvalues(c))
    end
    append!(out, m.yields)
end

function parbounds(m::Mixture)
    out = Tuple{Float64,Float64}[]
    for c in m.components
        append!(out, parbounds(c))
    end
    append!(out, fill((0.0, 1.0), length(m.components) - 1))
end

function parbounds(m::Extended)
    out = Tuple{Float64,Float64}[]
    for c in m.components
        append!(out, parbounds(c))
    end
    append!(out, fill((0.0, Inf), length(m.components)))
end

# Rebuild a tuple of shapes from consecutive slices of θ.  Recursion over
# the tuple keeps the result type inferable.
_rebuild(::Tuple{}, θ::AbstractVector, i::Int) = ()
function _rebuild(c::Tuple, θ::AbstractVector, i::Int)
    h = withparams(first(c), θ, i)
    (h, _rebuild(Base.tail(c), θ, i + nparams(first(c)))...)
end

function withparams(m::Mixture, θ::AbstractVector{S}, i::Int) where {S}
    comps = _rebuild(m.components, θ, i)
    j = i + _ncomp_params(m)
    fr = S[θ[k] for k in j:(j + length(m.components) - 2)]
    Mixture{S,typeof(comps)}(comps, fr, m.names)
end

function withparams(m::Extended, θ::AbstractVector{S}, i::Int) where {S}
    comps = _rebuild(m.components, θ, i)
    j = i + _ncomp_params(m)
    ys = S[θ[k] for k in j:(j + length(m.components) - 1)]
    Extended{S,typeof(comps)}(comps, ys, m.names)
end

"""
    coefficients(m::Mixture)

The component weights cᵢ implied by the recursive fractions; they sum to
one by construction.
"""
function coefficients(m::Mixture{T}) where {T}
    n = length(m.components)
    c = Vector{T}(undef, n)
    rest = one(T)
    for k in 1:(n - 1)
        f = clamp(m.fractions[k], zero(T), one(T))
        c[k] = rest * f
        rest *= 1 - f
    end
    c[n] = rest
    c
end

coefficients(m::Extended{T}) where {T} = m.yields ./ total_yield(m)
total_yield(m::Extended{T}) where {T} = sum(m.yields)

function Base.show(io::IO, m::Composite)
    print(io, nameof(typeof(m)), "(")
    coef = m isa Mixture ? coefficients(m) : m.yields
    for (k, c) in enumerate(m.components)
        k > 1 && print(io, " + ")
        print(io, m.names[k], ":", @sprintf("%.4g", Float64(coef[k])), "*", c)
    end
    print(io, ")")
end

# ---------------------------------------------------------------------------
# Prepared densities: a shape normalised on a fixed range.  Normalisation
# integrals are computed once per parameter point, not once per event.

"""
    prepare(shape, lo, hi)

A normalised density on [lo, hi] supporting `pdf`, `logpdf` and
`prob(p, a, b)`.
"""
struct PreparedShape{T,M<:AbstractShape{T}}
    shape::M
    invnorm::T
    lo::T
    hi::T
end

function prepare(m::AbstractShape{T}, lo::Real, hi::Real) where {T}
    I = shape_integral(m, T(lo), T(hi))
    PreparedShape{T,typeof(m)}(m, I > 0 ? inv(I) : T(Inf), T(lo), T(hi))
end

@inline pdf(p::PreparedShape{T}, x::Real) where {T} = density(p.shape, x) * p.invnorm
function prob(p::PreparedShape{T}, a::Real, b::Real) where {T}
    lo, hi = max(T(a), p.lo), min(T(b), p.hi)
    lo < hi || return zero(T)
    shape_integral(p.shape, lo, hi) * p.invnorm
end

struct PreparedSum{T,P<:Tuple}
    parts::P
    coeffs::Vector{T}
    total::T      # total yield (1 for a mixture)
end

_prepare_all(::Tuple{}, lo, hi) = ()
_prepare_all(c::Tuple, lo, hi) = (prepare(first(c), lo, hi), _prepare_all(Base.tail(c), lo, hi)...)

function prepare(m::Mixture{T}, lo::Real, hi::Real) where {T}
    parts = _prepare_all(m.components, T(lo), T(hi))
    PreparedSum{T,typeof(parts)}(parts, coefficients(m), one(T))
end

function prepare(m::Extended{T}, lo::Real, hi::Real) where {T}
    parts = _prepare_all(m.components, T(lo), T(hi))
    tot = total_yield(m)
    PreparedSum{T,typeof(parts)}(parts, m.yields ./ tot, tot)
end

# `map` over the tuple of parts unrolls into straight-line code with every
# call statically dispatched, also for mixtures nested in mixtures (where
# a recursive formulation trips inference's recursion limits and falls
# back to dynamic dispatch in the per-event loop).
@inline function _weighted(vals::NTuple{N,T}, c::Vector{T}) where {N,T}
    s = zero(T)
    @inbounds for k in 1:N
        s += c[k] * vals[k]
    end
    s
end

@inline function pdf(p::PreparedSum{T}, x::Real) where {T}
    xt = T(x)
    _weighted(map(q -> pdf(q, xt), p.parts), p.coeffs)
end

function prob(p::PreparedSum{T}, a::Real, b::Real) where {T}
    at, bt = T(a), T(b)
    _weighted(map(q -> prob(q, at, bt), p.parts), p.coeffs)
end
total_yield(p::PreparedSum) = p.total

"""
    logpdf(p, x)

Log density with a floor: a parameter point that gives an event zero
density gets a large finite penalty instead of -Inf, so line searches can
back off from it.
"""
@inline function logpdf(p, x::Real)
    v = pdf(p, x)
    v > 0 ? log(v) : oftype(v, -1000)
end

"""
    component_pdf(p, k, x)

Contribution of component `k` (weighted by its coefficient) at `x`.
"""
component_pdf(p::PreparedSum, k::Int, x::Real) = p.coeffs[k] * pdf(p.parts[k], x)
