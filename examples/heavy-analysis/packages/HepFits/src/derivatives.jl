# Finite-difference derivatives.  Step sizes balance truncation against the
# rounding noise of the objective, which is eps(T)*|f| and therefore depends
# both on the precision and on the size of the objective: a Float32 NLL of a
# few thousand events is only known to ~1e-3 absolute, and its Hessian needs
# steps a thousand times larger than the Float64 one.

_noise(::Type{T}, fx::T) where {T} = eps(T) * max(abs(fx), one(T))
_gstep(::Type{T}, fx::T) where {T} = cbrt(_noise(T, fx))
_hstep(::Type{T}, fx::T) where {T} = sqrt(sqrt(_noise(T, fx))) * 2

"""
    numgrad!(g, f, x, fx=f(x))

Central-difference gradient of `f` at `x` into `g`; `x` is restored.
Returns the number of function calls.
"""
function numgrad!(g::AbstractVector{T}, f, x::AbstractVector{T}, fx::T=f(x)) where {T}
    h0 = _gstep(T, fx)
    for i in eachindex(x)
        xi = x[i]
        h = h0 * max(one(T), abs(xi))
        x[i] = xi + h
        fp = f(x)
        x[i] = xi - h
        fm = f(x)
        x[i] = xi
        g[i] = (fp - fm) / (2h)
    end
    2 * length(x)
end

"""
    numgrad(f, x)

Gradient as a new vector.
"""
function numgrad(f, x::AbstractVector{T}) where {T}
    g = similar(x)
    numgrad!(g, f, copy(x))
    g
end

"""
    numhessian(f, x, fx=f(x)) -> (g, H, ncalls)

Gradient and Hessian from one stencil: the ± steps along each axis give
the diagonal and a central gradient, four corner points per pair the
off-diagonal terms.
"""
function numhessian(f, x::AbstractVector{T}, fx::T=f(x)) where {T}
    n = length(x)
    xw = copy(x)
    h0 = _hstep(T, fx)
    h = [h0 * max(one(T), abs(x[i])) for i in 1:n]
    g = zeros(T, n)
    H = zeros(T, n, n)
    calls = 0
    for i in 1:n
        xi = xw[i]
        xw[i] = xi + h[i]
        fp = f(xw)
        xw[i] = xi - h[i]
        fm = f(xw)
        xw[i] = xi
        calls += 2
        g[i] = (fp - fm) / (2h[i])
        H[i, i] = (fp - 2fx + fm) / (h[i] * h[i])
    end
    for i in 1:n, j in (i + 1):n
        xi, xj = xw[i], xw[j]
        xw[i] = xi + h[i]; xw[j] = xj + h[j]; fpp = f(xw)
        xw[j] = xj - h[j]; fpm = f(xw)
        xw[i] = xi - h[i]; fmm = f(xw)
        xw[j] = xj + h[j]; fmp = f(xw)
        xw[i] = xi; xw[j] = xj
        calls += 4
        v = (fpp - fpm - fmp + fmm) / (4 * h[i] * h[j])
        H[i, j] = v
        H[j, i] = v
    end
    g, H, calls
end
