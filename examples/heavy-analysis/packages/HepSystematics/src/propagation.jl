# Propagation of a covariance matrix through a function: linearised with a
# numerical Jacobian, and by sampling from the multivariate normal for
# functions too curved for the linear approximation.

"""
    jacobian(f, x)

Central-difference Jacobian of a vector-valued `f` at `x`
(outputs × inputs), with steps scaled to each component.
"""
function jacobian(f, x::AbstractVector{T}) where {T<:AbstractFloat}
    y0 = f(x)
    m = length(y0)
    J = Matrix{T}(undef, m, length(x))
    xw = collect(x)
    h0 = cbrt(eps(T))
    for j in eachindex(xw)
        xj = xw[j]
        h = h0 * max(abs(xj), one(T))
        xw[j] = xj + h
        yp = f(xw)
        xw[j] = xj - h
        ym = f(xw)
        xw[j] = xj
        for i in 1:m
            J[i, j] = (T(yp[i]) - T(ym[i])) / (2h)
        end
    end
    J
end

"""
    propagate(f, x, cov) -> (y, covy)

Linear propagation: covy = J cov Jᵀ.
"""
function propagate(f, x::AbstractVector{T}, cov::AbstractMatrix{T}) where {T<:AbstractFloat}
    y = T.(f(x))
    J = jacobian(f, x)
    Cy = matmul(matmul(J, cov), permutedims(J))
    for j in axes(Cy, 2), i in (j + 1):size(Cy, 1)
        m = (Cy[i, j] + Cy[j, i]) / 2
        Cy[i, j] = Cy[j, i] = m
    end
    y, Cy
end

"""
    sample_mvn(rng, μ, cov, n)

`n` draws (as rows) from the multivariate normal N(μ, cov), via the
Cholesky factor; a semi-definite cov gets a tiny diagonal regularisation.
"""
function sample_mvn(rng::AbstractRNG, μ::AbstractVector{T}, cov::AbstractMatrix{T},
                    n::Integer) where {T<:AbstractFloat}
    p = length(μ)
    L, ok = cholesky_lower(cov)
    if !ok
        reg = copy(cov)
        for i in 1:p
            reg[i, i] += max(abs(reg[i, i]), one(T)) * sqrt(eps(T))
        end
        L, ok = cholesky_lower(reg)
        ok || throw(ArgumentError("covariance matrix is not positive semi-definite"))
    end
    out = Matrix{T}(undef, n, p)
    z = Vector{T}(undef, p)
    for r in 1:n
        for i in 1:p
            z[i] = T(randn(rng))
        end
        for i in 1:p
            s = μ[i]
            for k in 1:i
                s += L[i, k] * z[k]
            end
            out[r, i] = s
        end
    end
    out
end

"""
    ToyPropagation{T}

Mean and covariance of f over toys drawn from N(μ, cov), with the linear
result for comparison.
"""
struct ToyPropagation{T<:AbstractFloat}
    linear_value::Vector{T}
    linear_cov::Matrix{T}
    toy_mean::Vector{T}
    toy_cov::Matrix{T}
    ntoys::Int
end

"""
    toy_propagate(f, rng, μ, cov; ntoys=1000)

Propagate by sampling and compare with [`propagate`](@ref).
"""
function toy_propagate(f, rng::AbstractRNG, μ::AbstractVector{T}, cov::AbstractMatrix{T};
                       ntoys::Integer=1000) where {T<:AbstractFloat}
    y, Cy = propagate(f, μ, cov)
    draws = sample_mvn(rng, μ, cov, ntoys)
    vals = Matrix{T}(undef, ntoys, length(y))
    for r in 1:ntoys
        v = f(draws[r, :])
        for q in eachindex(y)
            vals[r, q] = T(v[q])
        end
    end
    ToyPropagation{T}(y, Cy, vec(_colmean(vals)), sample_covariance(vals), Int(ntoys))
end

"""
    BLUEResult{T}

Best linear unbiased estimate of one quantity from correlated
measurements.
"""
struct BLUEResult{T<:AbstractFloat}
    value::T
    error::T
    weights::Vector{T}
    chi2::T
    ndf::Int
end

"""
    combine_blue(values, cov)

BLUE combination: weights w = C⁻¹1 / (1ᵀC⁻¹1), value wᵀx, variance
1/(1ᵀC⁻¹1), and the χ² of the measurements' consistency.
"""
function combine_blue(x::AbstractVector{T}, C::AbstractMatrix{T}) where {T<:AbstractFloat}
    n = length(x)
    Ci, ok = spd_inverse(C)
    ok || throw(ArgumentError("measurement covariance is not positive definite"))
    u = matmul(Ci, ones(T, n))
    s = sum(u)
    w = u ./ s
    v = zero(T)
    for i in 1:n
        v += w[i] * x[i]
    end
    r = x .- v
    BLUEResult{T}(v, sqrt(inv(s)), w, quadform(r, Ci), n - 1)
end
