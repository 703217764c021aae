# Unconstrained minimizers on the scaled internal parameters (see fit.jl),
# where one unit is roughly one expected standard deviation, so identity
# matrices are sensible starting Hessians and one tolerance fits all
# parameters.  All work in the element type of the starting point.

"""
    AbstractMinimizer

`minimize(method, f, x0; tol)` returns a [`MinResult`](@ref).  `tol` is
the target estimated distance to minimum (EDM = g'H⁻¹g/2) in units of the
objective.
"""
abstract type AbstractMinimizer end

"""
    MinResult{T}

Where a minimizer stopped: position, value, last gradient, EDM, iteration
and call counts, and why it stopped.
"""
struct MinResult{T<:AbstractFloat}
    x::Vector{T}
    fval::T
    grad::Vector{T}
    edm::T
    iterations::Int
    ncalls::Int
    converged::Bool
    status::String
end

"""
    Newton(; maxiter=50)

Damped Newton: numerical Hessian each iteration, Levenberg–Marquardt
damping while the Hessian is not positive definite or a step fails, and a
backtracking line search.  Quadratic convergence near the minimum makes it
the method of choice for polishing in high precision.
"""
Base.@kwdef struct Newton <: AbstractMinimizer
    maxiter::Int = 50
end

"""
    BFGS(; maxiter=200)

Quasi-Newton with the inverse-Hessian BFGS update, numerical gradients and
an Armijo line search; restarts from the identity when the update loses
positive definiteness.
"""
Base.@kwdef struct BFGS <: AbstractMinimizer
    maxiter::Int = 200
end

"""
    NelderMead(; maxiter=2000, step=1.0)

Derivative-free simplex search with the usual reflection, expansion,
contraction and shrink steps; robust far from the minimum where numerical
derivatives mislead.
"""
Base.@kwdef struct NelderMead <: AbstractMinimizer
    maxiter::Int = 2000
    step::Float64 = 1.0
end

"""
    Hybrid(methods...)

Run `methods` in turn, each starting where the previous stopped: e.g.
`Hybrid(NelderMead(), BFGS(), Newton())` for a robust start, fast descent
and a precise finish.
"""
struct Hybrid{M<:Tuple} <: AbstractMinimizer
    methods::M
end
Hybrid(ms::AbstractMinimizer...) = Hybrid(ms)

Base.show(io::IO, m::Newton) = print(io, "Newton")
Base.show(io::IO, m::BFGS) = print(io, "BFGS")
Base.show(io::IO, m::NelderMead) = print(io, "NelderMead")
function Base.show(io::IO, h::Hybrid)
    join(io, [sprint(show, m) for m in h.methods], "+")
end

default_tol(::Type{T}) where {T<:AbstractFloat} = max(sqrt(eps(T)) * 3, T(1e-30) * eps(T))

# An EDM below the rounding noise of the objective cannot be resolved by
# finite differences: for a Float32 likelihood of thousands of events that
# noise, not the requested tolerance, is the limit.
_tolerance(tol::T, fx::T) where {T} = max(tol, 10 * _noise(T, fx))

# ---------------------------------------------------------------------------

"""
    linesearch(f, x, fx, g, d) -> (α, xnew, fnew, calls)

Backtracking search along `d` for sufficient decrease (Armijo, c = 1e-4),
halving from α = 1; α = 0 if no step decreases `f`.
"""
function linesearch(f, x::Vector{T}, fx::T, g::Vector{T}, d::Vector{T};
                    maxhalvings::Int=40) where {T}
    slope = _dot(g, d)
    α = one(T)
    xn = similar(x)
    calls = 0
    for _ in 1:maxhalvings
        @. xn = x + α * d
        fn = f(xn)
        calls += 1
        if fn <= fx + T(1e-4) * α * slope && isfinite(fn)
            return α, xn, fn, calls
        end
        α /= 2
    end
    zero(T), copy(x), fx, calls
end

function _damped_solve(H::Matrix{T}, g::Vector{T}, λ::T) where {T}
    n = length(g)
    scale = [max(abs(H[i, i]), one(T)) for i in 1:n]
    for _ in 1:60
        A = copy(H)
        for i in 1:n
            A[i, i] += λ * scale[i]
        end
        L, ok = cholesky_lower(A)
        if ok
            return -cholesky_solve(L, g), λ
        end
        λ = iszero(λ) ? T(1e-4) : 10λ
    end
    -g, λ
end

function minimize(m::Newton, f, x0::Vector{T}; tol::T=default_tol(T)) where {T}
    x = copy(x0)
    fx = f(x)
    calls = 1
    λ = zero(T)
    g = zeros(T, length(x))
    edm = T(Inf)
    for it in 1:m.maxiter
        g, H, c = numhessian(f, x, fx)
        calls += c
        d, λused = _damped_solve(H, g, λ)
        if iszero(λused)
            edm = -_dot(g, d) / 2
            edm < _tolerance(tol, fx) && return MinResult(x, fx, g, edm, it, calls, true, "edm below tolerance")
        end
        _dot(g, d) < 0 || (d = -g)
        α, xn, fn, c2 = linesearch(f, x, fx, g, d)
        calls += c2
        if iszero(α)
            # No decrease along the (damped) Newton direction: damp harder,
            # which bends the step towards steepest descent.
            λ = max(10λused, T(1e-3))
            if λ > T(1e8)
                conv = edm < 10 * _tolerance(tol, fx)
                return MinResult(x, fx, g, edm, it, calls, conv,
                                 conv ? "edm near tolerance, no further decrease" : "line search failed")
            end
            continue
        end
        small = abs(fx - fn) <= 4 * _noise(T, fx) && iszero(λused)
        x, fx = xn, fn
        λ = λused / 10 < T(1e-6) ? zero(T) : λused / 10
        small && return MinResult(x, fx, g, edm, it, calls, edm < 10 * _tolerance(tol, fx),
                                  "objective change below rounding")
    end
    MinResult(x, fx, g, edm, m.maxiter, calls, edm < _tolerance(tol, fx), "iteration limit")
end

function minimize(m::BFGS, f, x0::Vector{T}; tol::T=default_tol(T)) where {T}
    n = length(x0)
    x = copy(x0)
    fx = f(x)
    g = similar(x)
    calls = 1 + numgrad!(g, f, x, fx)
    Hinv = _identity(T, n)
    edm = _dot(g, matmul(Hinv, g)) / 2
    fails = 0
    for it in 1:m.maxiter
        d = -matmul(Hinv, g)
        if _dot(g, d) >= 0
            Hinv = _identity(T, n)
            d = -copy(g)
        end
        α, xn, fn, c = linesearch(f, x, fx, g, d)
        calls += c
        if iszero(α)
            fails += 1
            near = edm < 10 * _tolerance(tol, fx)
            fails >= 2 && return MinResult(x, fx, g, edm, it, calls, near,
                                           near ? "edm near tolerance" : "line search failed")
            Hinv = _identity(T, n)
            continue
        end
        fails = 0
        gn = similar(g)
        calls += numgrad!(gn, f, xn, fn)
        s = xn - x
        y = gn - g
        sy = _dot(s, y)
        if sy > eps(T) * _norm(s) * _norm(y)
            if it == 1
                # Shanno's scaling of the initial inverse Hessian.
                Hinv = _identity(T, n) .* (sy / _dot(y, y))
            end
            Hy = matmul(Hinv, y)
            yHy = _dot(y, Hy)
            ρ = inv(sy)
            for j in 1:n, i in 1:n
                Hinv[i, j] += ρ * ((1 + ρ * yHy) * s[i] * s[j] - Hy[i] * s[j] - s[i] * Hy[j])
            end
        end
        x, fx, g = xn, fn, gn
        edm = _dot(g, matmul(Hinv, g)) / 2
        edm < _tolerance(tol, fx) && return MinResult(x, fx, g, edm, it, calls, true, "edm below tolerance")
    end
    MinResult(x, fx, g, edm, m.maxiter, calls, false, "iteration limit")
end

_identity(::Type{T}, n::Int) where {T} = T[i == j ? one(T) : zero(T) for i in 1:n, j in 1:n]

function minimize(m::NelderMead, f, x0::Vector{T}; tol::T=default_tol(T)) where {T}
    n = length(x0)
    # Adaptive coefficients (Gao & Han) behave better for n > 2.
    α, β, γ, δ = one(T), one(T) + T(2) / n, T(0.75) - one(T) / (2n), one(T) - one(T) / n
    simplex = [copy(x0) for _ in 1:(n + 1)]
    for i in 1:n
        simplex[i + 1][i] += T(m.step)
    end
    fs = [f(v) for v in simplex]
    calls = n + 1
    it = 0
    while it < m.maxiter
        it += 1
        order = sortperm(fs)
        simplex = simplex[order]
        fs = fs[order]
        spread = fs[end] - fs[1]
        spread <= tol && _diameter(simplex) < T(1e-3) && break
        centroid = zeros(T, n)
        for k in 1:n
            centroid .+= simplex[k]
        end
        centroid ./= n
        xr = centroid .+ α .* (centroid .- simplex[end])
        fr = f(xr)
        calls += 1
        if fr < fs[1]
            xe = centroid .+ β .* (xr .- centroid)
            fe = f(xe)
            calls += 1
            if fe < fr
                simplex[end], fs[end] = xe, fe
            else
                simplex[end], fs[end] = xr, fr
            end
        elseif fr < fs[end - 1]
            simplex[end], fs[end] = xr, fr
        else
            outside = fr < fs[end]
            xc = outside ? centroid .+ γ .* (xr .- centroid) :
                 centroid .- γ .* (centroid .- simplex[end])
            fc = f(xc)
            calls += 1
            if fc < min(fr, fs[end])
                simplex[end], fs[end] = xc, fc
            else
                for k in 2:(n + 1)
                    simplex[k] = simplex[1] .+ δ .* (simplex[k] .- simplex[1])
                    fs[k] = f(simplex[k])
                end
                calls += n
            end
        end
    end
    b = argmin(fs)
    spread = maximum(fs) - minimum(fs)
    MinResult(simplex[b], fs[b], zeros(T, n), spread, it, calls, spread <= tol,
              it < m.maxiter ? "simplex collapsed" : "iteration limit")
end

function _diameter(simplex::Vector{Vector{T}}) where {T}
    d = zero(T)
    for k in 2:length(simplex)
        d = max(d, _norm(simplex[k] .- simplex[1]))
    end
    d
end

function minimize(h::Hybrid, f, x0::Vector{T}; tol::T=default_tol(T)) where {T}
    r = minimize(first(h.methods), f, x0; tol=tol)
    its, calls = r.iterations, r.ncalls
    for m in Base.tail(h.methods)
        r = minimize(m, f, r.x; tol=tol)
        its += r.iterations
        calls += r.ncalls
    end
    MinResult(r.x, r.fval, r.grad, r.edm, its, calls, r.converged, r.status)
end
