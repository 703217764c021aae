"""
    AbstractShape{T}

A non-negative function of one variable with parameters of type `T`.
Interface: `nparams(::Type)`, `parnames`, `parvalues`, `parbounds`,
`withparams(shape, θ, i)` (a new shape, possibly of another element type,
from `θ[i:i+nparams-1]`), `density(shape, x)` (unnormalised) and
`shape_integral(shape, a, b)`.  The default integral is numerical, so a new
shape only needs a density to be fitted.
"""
abstract type AbstractShape{T<:Real} end

Base.eltype(::AbstractShape{T}) where {T} = T
nparams(m::AbstractShape) = nparams(typeof(m))
withparams(m::AbstractShape, θ::AbstractVector) = withparams(m, θ, 1)

"""
    convert_shape(T, m)

The same shape with parameters converted to `T`.
"""
convert_shape(::Type{T}, m::AbstractShape) where {T<:Real} = withparams(m, T.(parvalues(m)), 1)

shape_integral(m::AbstractShape{T}, a::Real, b::Real) where {T} =
    integrate(x -> density(m, x), T(a), T(b))

function Base.show(io::IO, m::AbstractShape)
    print(io, nameof(typeof(m)), "(")
    names = parnames(m)
    vals = parvalues(m)
    for i in eachindex(names)
        i > 1 && print(io, ", ")
        print(io, names[i], "=", @sprintf("%.5g", Float64(vals[i])))
    end
    print(io, ")")
end

# Outer constructors promote their arguments and name the element type
# explicitly (calling the bare type again would recurse).
_build(::Type{S}, args::NTuple{N,T}) where {S,N,T} = S{T}(args...)

# ---------------------------------------------------------------------------

"""
    Gaussian(mean, sigma)

exp(-(x-mean)²/2σ²).  Integral via the error function.
"""
struct Gaussian{T} <: AbstractShape{T}
    mean::T
    sigma::T
end
Gaussian(m::Real, s::Real) = _build(Gaussian, promote(float(m), float(s)))

nparams(::Type{<:Gaussian}) = 2
parnames(::Gaussian) = ["mean", "sigma"]
parvalues(m::Gaussian{T}) where {T} = T[m.mean, m.sigma]
parbounds(::Gaussian) = [(-Inf, Inf), (1e-6, Inf)]
withparams(::Gaussian, θ::AbstractVector{S}, i::Int) where {S} = Gaussian{S}(θ[i], θ[i + 1])

@inline function density(m::Gaussian{T}, x::Real) where {T}
    t = (T(x) - m.mean) / m.sigma
    exp(-t * t / 2)
end

function shape_integral(m::Gaussian{T}, a::Real, b::Real) where {T}
    r2 = sqrt(T(2))
    ta = (T(a) - m.mean) / (m.sigma * r2)
    tb = (T(b) - m.mean) / (m.sigma * r2)
    # Both bounds in the same far tail: use erfc to avoid 1 - 1.
    d = if ta > 0
        erfc_generic(ta) - erfc_generic(tb)
    elseif tb < 0
        erfc_generic(-tb) - erfc_generic(-ta)
    else
        erf_generic(tb) - erf_generic(ta)
    end
    m.sigma * sqrt(T(pi) / 2) * d
end

# ---------------------------------------------------------------------------

"""
    CrystalBall(mean, sigma, alpha, n)

Gaussian core with a power-law tail on the low side starting `alpha`
standard deviations below the mean; the usual model of a resolution
function with energy loss.
"""
struct CrystalBall{T} <: AbstractShape{T}
    mean::T
    sigma::T
    alpha::T
    n::T
end
CrystalBall(m::Real, s::Real, a::Real, n::Real) =
    _build(CrystalBall, promote(float(m), float(s), float(a), float(n)))

nparams(::Type{<:CrystalBall}) = 4
parnames(::CrystalBall) = ["mean", "sigma", "alpha", "n"]
parvalues(m::CrystalBall{T}) where {T} = T[m.mean, m.sigma, m.alpha, m.n]
parbounds(::CrystalBall) = [(-Inf, Inf), (1e-6, Inf), (0.1, 10.0), (1.05, 60.0)]
withparams(::CrystalBall, θ::AbstractVector{S}, i::Int) where {S} =
    CrystalBall{S}(θ[i], θ[i + 1], θ[i + 2], θ[i + 3])

function _cb_tail(m::CrystalBall{T}) where {T}
    α = abs(m.alpha)
    A = exp(m.n * log(m.n / α) - α * α / 2)
    B = m.n / α - α
    α, A, B
end

function density(m::CrystalBall{T}, x::Real) where {T}
    t = (T(x) - m.mean) / m.sigma
    α, A, B = _cb_tail(m)
    t > -α && return exp(-t * t / 2)
    A * (B - t)^(-m.n)
end

function shape_integral(m::CrystalBall{T}, a::Real, b::Real) where {T}
    ta = (T(a) - m.mean) / m.sigma
    tb = (T(b) - m.mean) / m.sigma
    α, A, B = _cb_tail(m)
    s = zero(T)
    if ta < -α
        t2 = min(tb, -α)
        n = m.n
        if abs(n - 1) < sqrt(eps(T))
            s += A * (log(B - ta) - log(B - t2))
        else
            s += A / (n - 1) * ((B - t2)^(1 - n) - (B - ta)^(1 - n))
        end
    end
    if tb > -α
        t1 = max(ta, -α)
        r2 = sqrt(T(2))
        s += sqrt(T(pi) / 2) * (erf_generic(tb / r2) - erf_generic(t1 / r2))
    end
    m.sigma * s
end

# ---------------------------------------------------------------------------

"""
    Exponential(slope; origin=0)

exp(slope * (x - origin)).  `origin` is fixed (not a fit parameter) and
only keeps the numbers in range for steep slopes far from zero.
"""
struct Exponential{T} <: AbstractShape{T}
    slope::T
    origin::Float64
end
Exponential(s::Real; origin::Real=0.0) = Exponential{typeof(float(s))}(float(s), Float64(origin))

nparams(::Type{<:Exponential}) = 1
parnames(::Exponential) = ["slope"]
parvalues(m::Exponential{T}) where {T} = T[m.slope]
parbounds(::Exponential) = [(-Inf, Inf)]
withparams(m::Exponential, θ::AbstractVector{S}, i::Int) where {S} = Exponential{S}(θ[i], m.origin)

density(m::Exponential{T}, x::Real) where {T} = exp(m.slope * (T(x) - T(m.origin)))

function shape_integral(m::Exponential{T}, a::Real, b::Real) where {T}
    λ = m.slope
    a0 = T(a) - T(m.origin)
    w = T(b) - T(a)
    abs(λ * w) < eps(T) && return w * exp(λ * a0)
    exp(λ * a0) * expm1(λ * w) / λ
end

# ---------------------------------------------------------------------------

"""
    Chebyshev(coeffs...; lo, hi)

1 + Σ cₖ Tₖ(u) with u mapping [lo, hi] onto [-1, 1]: a smooth polynomial
background whose coefficients are nearly uncorrelated.  Clipped at a tiny
positive value so the logarithm stays finite.
"""
struct Chebyshev{T,N} <: AbstractShape{T}
    c::NTuple{N,T}
    lo::Float64
    hi::Float64
end
function Chebyshev(c::NTuple{N,Real}; lo::Real, hi::Real) where {N}
    cs = map(float, promote(c...))
    Chebyshev{eltype(cs),N}(cs, Float64(lo), Float64(hi))
end

nparams(::Type{<:Chebyshev{T,N}}) where {T,N} = N
parnames(::Chebyshev{T,N}) where {T,N} = ["c$k" for k in 1:N]
parvalues(m::Chebyshev{T,N}) where {T,N} = T[m.c...]
parbounds(::Chebyshev{T,N}) where {T,N} = fill((-1.5, 1.5), N)
withparams(m::Chebyshev{T,N}, θ::AbstractVector{S}, i::Int) where {T,N,S} =
    Chebyshev{S,N}(ntuple(k -> θ[i + k - 1], Val(N)), m.lo, m.hi)

_cheb_u(m::Chebyshev{T}, x) where {T} = (2 * T(x) - T(m.lo) - T(m.hi)) / (T(m.hi) - T(m.lo))

function _cheb_sum(c::NTuple{N,T}, u::T) where {N,T}
    s = one(T)
    t0 = one(T)
    t1 = u
    for k in 1:N
        s += c[k] * t1
        t0, t1 = t1, 2u * t1 - t0
    end
    s
end

density(m::Chebyshev{T}, x::Real) where {T} = max(_cheb_sum(m.c, _cheb_u(m, x)), T(1e-12))

# Antiderivative of the series in u, using ∫T_k = (T_{k+1}/(k+1) - T_{k-1}/(k-1))/2.
function _cheb_antideriv(c::NTuple{N,T}, u::T) where {N,T}
    tk = Vector{T}(undef, N + 2)   # T_0 .. T_{N+1}
    tk[1] = one(T)
    tk[2] = u
    for k in 3:(N + 2)
        tk[k] = 2u * tk[k - 1] - tk[k - 2]
    end
    s = u                          # ∫T_0
    N >= 1 && (s += c[1] * u * u / 2)
    for k in 2:N
        s += c[k] * (tk[k + 2] / (k + 1) - tk[k] / (k - 1)) / 2
    end
    s
end

function shape_integral(m::Chebyshev{T}, a::Real, b::Real) where {T}
    # Exact for the polynomial; the positivity clip is ignored, which only
    # matters for shapes that already describe the data badly.
    ua, ub = _cheb_u(m, a), _cheb_u(m, b)
    (T(m.hi) - T(m.lo)) / 2 * (_cheb_antideriv(m.c, ub) - _cheb_antideriv(m.c, ua))
end

# ---------------------------------------------------------------------------

"""
    BreitWigner(mass, width)

Non-relativistic resonance line shape 1/((x-m)² + Γ²/4).
"""
struct BreitWigner{T} <: AbstractShape{T}
    mass::T
    width::T
end
BreitWigner(m::Real, w::Real) = _build(BreitWigner, promote(float(m), float(w)))

nparams(::Type{<:BreitWigner}) = 2
parnames(::BreitWigner) = ["mass", "width"]
parvalues(m::BreitWigner{T}) where {T} = T[m.mass, m.width]
parbounds(::BreitWigner) = [(-Inf, Inf), (1e-6, Inf)]
withparams(::BreitWigner, θ::AbstractVector{S}, i::Int) where {S} = BreitWigner{S}(θ[i], θ[i + 1])

function density(m::BreitWigner{T}, x::Real) where {T}
    d = T(x) - m.mass
    g = m.width / 2
    inv(d * d + g * g)
end

function shape_integral(m::BreitWigner{T}, a::Real, b::Real) where {T}
    g = m.width / 2
    (atan((T(b) - m.mass) / g) - atan((T(a) - m.mass) / g)) / g
end

# ---------------------------------------------------------------------------

"""
    Moyal(mpv, width)

Moyal's approximation to the Landau distribution of energy loss:
exp(-(t + e⁻ᵗ)/2) with t = (x - mpv)/width.  Its CDF is erfc(e^(-t/2)/√2).
"""
struct Moyal{T} <: AbstractShape{T}
    mpv::T
    width::T
end
Moyal(m::Real, w::Real) = _build(Moyal, promote(float(m), float(w)))

nparams(::Type{<:Moyal}) = 2
parnames(::Moyal) = ["mpv", "width"]
parvalues(m::Moyal{T}) where {T} = T[m.mpv, m.width]
parbounds(::Moyal) = [(-Inf, Inf), (1e-6, Inf)]
withparams(::Moyal, θ::AbstractVector{S}, i::Int) where {S} = Moyal{S}(θ[i], θ[i + 1])

function density(m::Moyal{T}, x::Real) where {T}
    t = (T(x) - m.mpv) / m.width
    t < -30 && return zero(T)
    exp(-(t + exp(-t)) / 2)
end

function _moyal_cdf(m::Moyal{T}, x::T) where {T}
    t = (x - m.mpv) / m.width
    t < -30 && return zero(T)
    erfc_generic(exp(-t / 2) / sqrt(T(2)))
end

shape_integral(m::Moyal{T}, a::Real, b::Real) where {T} =
    m.width * sqrt(2 * T(pi)) * (_moyal_cdf(m, T(b)) - _moyal_cdf(m, T(a)))

# ---------------------------------------------------------------------------

"""
    DijetFunction(p1, p2, p3; sqrts=4000)

The standard dijet-search background (1-x)^p1 / x^(p2 + p3 ln x) with
x = m/√s.  No closed-form integral: it goes through the generic
quadrature.
"""
struct DijetFunction{T} <: AbstractShape{T}
    p1::T
    p2::T
    p3::T
    sqrts::Float64
end
function DijetFunction(p1::Real, p2::Real, p3::Real; sqrts::Real=4000.0)
    a, b, c = promote(float(p1), float(p2), float(p3))
    DijetFunction{typeof(a)}(a, b, c, Float64(sqrts))
end

nparams(::Type{<:DijetFunction}) = 3
parnames(::DijetFunction) = ["p1", "p2", "p3"]
parvalues(m::DijetFunction{T}) where {T} = T[m.p1, m.p2, m.p3]
parbounds(::DijetFunction) = [(-50.0, 200.0), (-20.0, 30.0), (-5.0, 5.0)]
withparams(m::DijetFunction, θ::AbstractVector{S}, i::Int) where {S} =
    DijetFunction{S}(θ[i], θ[i + 1], θ[i + 2], m.sqrts)

function density(m::DijetFunction{T}, x::Real) where {T}
    u = T(x) / T(m.sqrts)
    (u <= 0 || u >= 1) && return zero(T)
    lu = log(u)
    exp(m.p1 * log1p(-u) - (m.p2 + m.p3 * lu) * lu)
end
