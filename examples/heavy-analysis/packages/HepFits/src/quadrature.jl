# Gauss-Legendre quadrature in any precision.  Nodes are the roots of the
# Legendre polynomial P_n, found by Newton's method from the Chebyshev-like
# initial guesses; weights follow from P_n'.  Rules are cached per
# (type, precision, n) because a fit integrates the same shapes thousands of
# times.

const _GL_CACHE = Dict{Tuple{DataType,Int,Int},Any}()
const _GL_LOCK = ReentrantLock()

function _legendre(n::Int, x::T) where {T<:AbstractFloat}
    p0 = one(T)
    p1 = x
    for k in 2:n
        p0, p1 = p1, ((2k - 1) * x * p1 - (k - 1) * p0) / k
    end
    # derivative from the recurrence: (1-x^2) P_n' = n (P_{n-1} - x P_n)
    dp = n * (p0 - x * p1) / (1 - x * x)
    p1, dp
end

function _compute_gl(::Type{T}, n::Int) where {T<:AbstractFloat}
    nodes = Vector{T}(undef, n)
    weights = Vector{T}(undef, n)
    m = (n + 1) ÷ 2
    for i in 1:m
        x = T(cos(pi * (i - 0.25) / (n + 0.5)))
        for _ in 1:100
            p, dp = _legendre(n, x)
            δ = p / dp
            x -= δ
            abs(δ) <= 4 * eps(T) * max(abs(x), one(T)) && break
        end
        _, dp = _legendre(n, x)
        w = 2 / ((1 - x * x) * dp * dp)
        nodes[i] = -x
        nodes[n + 1 - i] = x
        weights[i] = w
        weights[n + 1 - i] = w
    end
    if isodd(n)
        nodes[m] = zero(T)
    end
    nodes, weights
end

"""
    gauss_legendre(T, n)

`(nodes, weights)` of the `n`-point rule on [-1, 1] in precision `T`.
"""
function gauss_legendre(::Type{T}, n::Int) where {T<:AbstractFloat}
    key = (T, precision(T), n)
    r = lock(_GL_LOCK) do
        get!(() -> _compute_gl(T, n), _GL_CACHE, key)
    end
    r::Tuple{Vector{T},Vector{T}}
end

"""
    integrate(f, a, b; order=20, panels=4)

Composite Gauss-Legendre integral of `f` over [a, b] in the precision of
the bounds.  `order` is raised automatically for wider types so that the
quadrature error stays near the rounding error for smooth integrands.
"""
function integrate(f, a::T, b::T; order::Int=_default_order(T), panels::Int=4) where {T<:AbstractFloat}
    a == b && return zero(T)
    x, w = gauss_legendre(T, order)
    h = (b - a) / panels
    acc = KahanSum{T}()
    for p in 1:panels
        lo = a + (p - 1) * h
        half = h / 2
        mid = lo + half
        s = zero(T)
        for k in eachindex(x)
            s += w[k] * f(mid + half * x[k])
        end
        acc += s * half
    end
    sum(acc)
end
integrate(f, a::Real, b::Real; kwargs...) = integrate(f, promote(float(a), float(b))...; kwargs...)

_default_order(::Type{T}) where {T<:AbstractFloat} = precision(T) <= 24 ? 8 :
    precision(T) <= 53 ? 16 : 32
