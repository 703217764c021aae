# Toy data.  Draws are made in Float64 from the shape's Float64 copy, then
# stored in the requested precision, so toys of every precision made from
# the same seed hold the same values up to rounding.

"""
    sample(rng, shape, lo, hi, n; T=Float64)

`n` values drawn from `shape` truncated to [lo, hi].
"""
function sample(rng::AbstractRNG, m::AbstractShape, lo::Real, hi::Real, n::Integer;
                T::Type{<:AbstractFloat}=Float64)
    sample!(rng, Vector{T}(undef, n), m, lo, hi)
end

"""
    sample!(rng, out, shape, lo, hi)

Fill `out` with draws from `shape` on [lo, hi].
"""
function sample!(rng::AbstractRNG, out::AbstractVector{T}, m::AbstractShape, lo::Real,
                 hi::Real) where {T}
    m64 = convert_shape(Float64, m)
    s = _sampler(m64, Float64(lo), Float64(hi))
    for i in eachindex(out)
        out[i] = T(_draw(rng, s))
    end
    out
end

# A sampler is a shape with whatever it needs precomputed for one range.
struct RejectionSampler{M}
    shape::M
    lo::Float64
    hi::Float64
    fmax::Float64
end

struct MixtureSampler{P<:Tuple}
    parts::P
    cumulative::Vector{Float64}
end

struct InverseExp
    slope::Float64
    origin::Float64
    lo::Float64
    hi::Float64
    ea::Float64
    eb::Float64
end

struct TruncatedGaussian
    mean::Float64
    sigma::Float64
    lo::Float64
    hi::Float64
    fallback::RejectionSampler{Gaussian{Float64}}
end

struct InverseBW
    mass::Float64
    halfwidth::Float64
    ta::Float64
    tb::Float64
end

function _envelope(m::AbstractShape, lo::Float64, hi::Float64)
    n = 400
    fmax = 0.0
    for k in 0:n
        fmax = max(fmax, Float64(density(m, lo + (hi - lo) * k / n)))
    end
    1.25 * fmax
end

_sampler(m::AbstractShape, lo::Float64, hi::Float64) =
    RejectionSampler(m, lo, hi, _envelope(m, lo, hi))

function _sampler(m::Gaussian{Float64}, lo::Float64, hi::Float64)
    TruncatedGaussian(m.mean, m.sigma, lo, hi, RejectionSampler(m, lo, hi, 1.0))
end

function _sampler(m::Exponential{Float64}, lo::Float64, hi::Float64)
    InverseExp(m.slope, m.origin, lo, hi, exp(m.slope * (lo - m.origin)), exp(m.slope * (hi - m.origin)))
end

function _sampler(m::BreitWigner{Float64}, lo::Float64, hi::Float64)
    g = m.width / 2
    InverseBW(m.mass, g, atan((lo - m.mass) / g), atan((hi - m.mass) / g))
end

_samplers(::Tuple{}, lo, hi) = ()
_samplers(c::Tuple, lo, hi) = (_sampler(first(c), lo, hi), _samplers(Base.tail(c), lo, hi)...)

function _sampler(m::Union{Mixture{Float64},Extended{Float64}}, lo::Float64, hi::Float64)
    c = Float64.(coefficients(m))
    MixtureSampler(_samplers(m.components, lo, hi), cumsum(c) ./ sum(c))
end

function _draw(rng::AbstractRNG, s::RejectionSampler)
    for _ in 1:1_000_000
        x = s.lo + (s.hi - s.lo) * rand(rng)
        rand(rng) * s.fmax <= density(s.shape, x) && return x
    end
    error("rejection sampling failed for ", s.shape)
end

function _draw(rng::AbstractRNG, s::TruncatedGaussian)
    # Plain Gaussian draws while the range holds most of the probability;
    # a range in the far tail falls back to rejection from a uniform.
    for _ in 1:50
        x = s.mean + s.sigma * randn(rng)
        s.lo <= x < s.hi && return x
    end
    _draw(rng, s.fallback)
end

function _draw(rng::AbstractRNG, s::InverseExp)
    u = rand(rng)
    iszero(s.slope) && return s.lo + u * (s.hi - s.lo)   # flat
    s.origin + log(s.ea + u * (s.eb - s.ea)) / s.slope
end

_draw(rng::AbstractRNG, s::InverseBW) = s.mass + s.halfwidth * tan(s.ta + rand(rng) * (s.tb - s.ta))

function _draw(rng::AbstractRNG, s::MixtureSampler)
    u = rand(rng)
    _draw_part(rng, s.parts, s.cumulative, u, 1)
end

_draw_part(rng, ::Tuple{}, cum, u, k) = error("mixture coefficients do not sum to one")
function _draw_part(rng, parts::Tuple, cum, u, k)
    (u <= cum[k] || k == length(cum)) && return _draw(rng, first(parts))
    _draw_part(rng, Base.tail(parts), cum, u, k + 1)
end

"""
    poisson_draw(rng, λ)

Poisson variate (Knuth's method, split for large means), as used for the
number of events of extended toys and for bootstrap weights.
"""
function poisson_draw(rng::AbstractRNG, λ::Real)
    λ <= 0 && return 0
    λ > 30 && return poisson_draw(rng, λ / 2) + poisson_draw(rng, λ / 2)
    L = exp(-Float64(λ))
    k = 0
    p = rand(rng)
    while p > L
        k += 1
        p *= rand(rng)
    end
    k
end

"""
    sample(rng, m::Extended, lo, hi; T=Float64)

An extended toy: the number of events is Poisson around the total yield.
"""
sample(rng::AbstractRNG, m::Extended, lo::Real, hi::Real; T::Type{<:AbstractFloat}=Float64) =
    sample(rng, m, lo, hi, poisson_draw(rng, Float64(total_yield(m))); T=T)
