# Special functions written against `AbstractFloat` so that BigFloat fits get
# the same code path as Float64 ones.  Base Julia has no erf or loggamma, and
# pulling in SpecialFunctions would mean a binary dependency; these are
# short, exact to the working precision, and fast enough for a fit.

"""
    KahanSum{T}

Compensated accumulator.  The negative log-likelihood is a sum of thousands
of terms of similar size, which in `Float32` loses several digits when
added naively; the compensation keeps it correctly rounded.
"""
struct KahanSum{T<:AbstractFloat}
    s::T
    c::T
end

KahanSum{T}() where {T} = KahanSum{T}(zero(T), zero(T))
KahanSum(x::T) where {T<:AbstractFloat} = KahanSum{T}(x, zero(T))

@inline function Base.:+(k::KahanSum{T}, x::Real) where {T}
    y = T(x) - k.c
    t = k.s + y
    KahanSum{T}(t, (t - k.s) - y)
end
Base.sum(k::KahanSum) = k.s
Base.float(k::KahanSum) = k.s

"""
    ksum(f, xs)

Compensated sum of `f(x)` over `xs`, in the result type of `f`.
"""
function ksum(f, xs::AbstractVector{T}) where {T}
    isempty(xs) && return zero(float(T))
    acc = KahanSum(float(f(first(xs))))
    for i in 2:length(xs)
        acc += f(xs[i])
    end
    sum(acc)
end
ksum(xs::AbstractVector) = ksum(identity, xs)

# Below this |x| the everywhere-positive series for erf is used; above it
# the continued fraction for erfc.  The series needs O(x^2 + digits) terms
# and has no cancellation, so high precision types use it further out where
# the continued fraction would converge slowly.
_erf_cut(::Type{T}) where {T<:AbstractFloat} = precision(T) > 64 ? T(8) : T(2.5)

function _erf_series(x::T) where {T<:AbstractFloat}
    # erf(x) = 2/sqrt(pi) exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
    x2 = x * x
    term = x
    s = x
    n = 0
    while n < 100_000
        n += 1
        term *= 2 * x2 / (2n + 1)
        s += term
        abs(term) <= eps(T) * abs(s) && break
    end
    2 / sqrt(T(pi)) * exp(-x2) * s
end

function _erfc_cf(x::T) where {T<:AbstractFloat}
    # erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
    # evaluated with the modified Lentz method.
    tiny = floatmin(T) * 16
    f = x
    C = f
    D = zero(T)
    k = 0
    while k < 100_000
        k += 1
        a = T(k) / 2
        D = x + a * D
        D = abs(D) < tiny ? inv(tiny) : inv(D)
        C = x + a / C
        abs(C) < tiny && (C = tiny)
        Δ = C * D
        f *= Δ
        abs(Δ - 1) <= eps(T) && break
    end
    exp(-x * x) / sqrt(T(pi)) / f
end

"""
    erf_generic(x)

Error function in the precision of `x`.
"""
function erf_generic(x::T) where {T<:AbstractFloat}
    isnan(x) && return x
    ax = abs(x)
    r = ax < _erf_cut(T) ? _erf_series(ax) : one(T) - _erfc_cf(ax)
    signbit(x) ? -r : r
end
erf_generic(x::Real) = erf_generic(float(x))

"""
    erfc_generic(x)

Complementary error function, accurate in the far tail.
"""
function erfc_generic(x::T) where {T<:AbstractFloat}
    isnan(x) && return x
    if x < _erf_cut(T)
        return x > -_erf_cut(T) ? one(T) - erf_generic(x) : 2 - _erfc_cf(-x)
    end
    _erfc_cf(x)
end
erfc_generic(x::Real) = erfc_generic(float(x))

"""
    normcdf(x)

Standard normal cumulative distribution.
"""
normcdf(x::T) where {T<:AbstractFloat} = erfc_generic(-x / sqrt(T(2))) / 2
normcdf(x::Real) = normcdf(float(x))

# Bernoulli coefficients B_{2k}/(2k(2k-1)) of the Stirling series, exact
# rationals so they convert to any precision.
const _STIRLING = (1 // 12, -1 // 360, 1 // 1260, -1 // 1680, 1 // 1188, -691 // 360360,
                   1 // 156, -3617 // 122400, 43867 // 244188, -174611 // 125400)

"""
    loggamma_generic(x)

log Γ(x) for x > 0: shift x up until the Stirling series converges to the
working precision, then undo the shift with a product.
"""
function loggamma_generic(x::T) where {T<:AbstractFloat}
    x > 0 || throw(DomainError(x, "loggamma_generic needs a positive argument"))
    # The series is asymptotic; x >= 7 suffices for Float64, higher
    # precision needs a larger shift.
    xmin = T(max(7, precision(T) ÷ 4))
    shift = zero(T)
    prod = one(T)
    while x < xmin
        prod *= x
        x += 1
        if prod > floatmax(T) / 1e10
            shift += log(prod)
            prod = one(T)
        end
    end
    shift += log(prod)
    s = (x - T(0.5)) * log(x) - x + log(2 * T(pi)) / 2
    xinv = inv(x)
    x2 = xinv * xinv
    p = xinv
    for c in _STIRLING
        term = T(c) * p
        s += term
        abs(term) <= eps(T) * abs(s) && break
        p *= x2
    end
    s - shift
end
loggamma_generic(x::Real) = loggamma_generic(float(x))

"""
    gamma_p(a, x)

Regularised lower incomplete gamma function P(a, x): series for x < a+1,
continued fraction for Q = 1 - P otherwise (Numerical Recipes' split).
"""
function gamma_p(a::T, x::T) where {T<:AbstractFloat}
    x < 0 && throw(DomainError(x, "gamma_p needs x >= 0"))
    iszero(x) && return zero(T)
    lg = loggamma_generic(a)
    if x < a + 1
        ap = a
        del = inv(a)
        s = del
        for _ in 1:100_000
            ap += 1
            del *= x / ap
            s += del
            abs(del) < abs(s) * eps(T) && break
        end
        return s * exp(-x + a * log(x) - lg)
    end
    tiny = floatmin(T) * 16
    b = x + 1 - a
    c = inv(tiny)
    d = inv(b)
    h = d
    for i in 1:100_000
        an = -i * (i - a)
        b += 2
        d = an * d + b
        abs(d) < tiny && (d = tiny)
        c = b + an / c
        abs(c) < tiny && (c = tiny)
        d = inv(d)
        Δ = d * c
        h *= Δ
        abs(Δ - 1) < eps(T) && break
    end
    one(T) - exp(-x + a * log(x) - lg) * h
end
gamma_p(a::Real, x::Real) = gamma_p(promote(float(a), float(x))...)

"""
    chi2_pvalue(chi2, ndf)

Upper tail probability of the χ² distribution.
"""
function chi2_pvalue(chi2::T, ndf::Integer) where {T<:AbstractFloat}
    ndf <= 0 && return T(NaN)
    chi2 <= 0 && return one(T)
    one(T) - gamma_p(T(ndf) / 2, chi2 / 2)
end
chi2_pvalue(chi2::Real, ndf::Integer) = chi2_pvalue(float(chi2), ndf)
