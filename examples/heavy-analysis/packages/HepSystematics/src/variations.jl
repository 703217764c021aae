# Variations act on an unbinned sample: values x (e.g. dijet masses) and
# event weights w, both in the precision of the analysis.  Each returns new
# vectors and leaves its inputs alone, so the nominal sample can be reused
# for every variation.

"""
    AbstractVariation

`apply(v, x, w) -> (x′, w′)` and `label(v)`.  Variations that draw random
numbers carry their own seed, so applying one twice gives the same sample.
"""
abstract type AbstractVariation end

"""
    Nominal()

The identity: the reference every shift is measured from.
"""
struct Nominal <: AbstractVariation end
label(::Nominal) = "nominal"
apply(::Nominal, x::AbstractVector{T}, w::AbstractVector{T}) where {T} = (copy(x), copy(w))

"""
    ScaleShift(name, δ)

x → x·(1+δ): an energy-scale uncertainty.
"""
struct ScaleShift <: AbstractVariation
    name::String
    delta::Float64
end
label(v::ScaleShift) = v.name
function apply(v::ScaleShift, x::AbstractVector{T}, w::AbstractVector{T}) where {T}
    f = one(T) + T(v.delta)
    (x .* f, copy(w))
end

"""
    Smearing(name, relsigma; seed)

x → x·(1 + σ·N(0,1)): extra resolution, e.g. the difference between
detector simulation and data.
"""
struct Smearing <: AbstractVariation
    name::String
    relsigma::Float64
    seed::Int
end
Smearing(name::AbstractString, relsigma::Real; seed::Integer=1) =
    Smearing(String(name), Float64(relsigma), Int(seed))
label(v::Smearing) = v.name
function apply(v::Smearing, x::AbstractVector{T}, w::AbstractVector{T}) where {T}
    rng = MersenneTwister(v.seed)
    out = similar(x)
    for i in eachindex(x)
        out[i] = x[i] * (one(T) + T(v.relsigma * randn(rng)))
    end
    (out, copy(w))
end

"""
    WeightTilt(name, slope, pivot)

w → w·max(0, 1 + slope·(x - pivot)/pivot): a shape uncertainty that
rotates the spectrum around `pivot`.
"""
struct WeightTilt <: AbstractVariation
    name::String
    slope::Float64
    pivot::Float64
end
label(v::WeightTilt) = v.name
function apply(v::WeightTilt, x::AbstractVector{T}, w::AbstractVector{T}) where {T}
    p = T(v.pivot)
    s = T(v.slope)
    out = similar(w)
    for i in eachindex(w)
        out[i] = w[i] * max(zero(T), one(T) + s * (x[i] - p) / p)
    end
    (copy(x), out)
end

"""
    EfficiencyLoss(name, ineff; seed, threshold=-Inf)

Drop each event above `threshold` with probability `ineff`: a trigger or
reconstruction inefficiency that changes yields but not shapes.
"""
struct EfficiencyLoss <: AbstractVariation
    name::String
    ineff::Float64
    seed::Int
    threshold::Float64
end
EfficiencyLoss(name::AbstractString, ineff::Real; seed::Integer=1, threshold::Real=-Inf) =
    EfficiencyLoss(String(name), Float64(ineff), Int(seed), Float64(threshold))
label(v::EfficiencyLoss) = v.name
function apply(v::EfficiencyLoss, x::AbstractVector{T}, w::AbstractVector{T}) where {T}
    rng = MersenneTwister(v.seed)
    keep = Int[]
    for i in eachindex(x)
        r = rand(rng)
        (x[i] < v.threshold || r >= v.ineff) && push!(keep, i)
    end
    (x[keep], w[keep])
end

"""
    Chain(a, b)

Apply `a`, then `b`.
"""
struct Chain{A<:AbstractVariation,B<:AbstractVariation} <: AbstractVariation
    a::A
    b::B
end
label(v::Chain) = string(label(v.a), "+", label(v.b))
function apply(v::Chain, x::AbstractVector{T}, w::AbstractVector{T}) where {T}
    x1, w1 = apply(v.a, x, w)
    apply(v.b, x1, w1)
end
Base.:∘(b::AbstractVariation, a::AbstractVariation) = Chain(a, b)

Base.show(io::IO, v::AbstractVariation) = print(io, label(v))

"""
    Systematic(name, up, down=nothing)

One source of uncertainty: a pair of variations (or a single one-sided
variation, mirrored when symmetrising).
"""
struct Systematic{U<:AbstractVariation,D<:Union{Nothing,AbstractVariation}}
    name::String
    up::U
    down::D
end
Systematic(name::AbstractString, up::AbstractVariation) = Systematic(String(name), up, nothing)
