# Small dense linear algebra for fit covariance matrices (a handful of
# parameters).  LinearAlgebra would do, but LAPACK has no BigFloat or
# Float16 paths and its generic fallbacks differ in pivoting between
# versions; these few routines behave the same in every precision.

"""
    cholesky_lower(A) -> (L, ok)

Lower-triangular `L` with `L*L' == A` for a symmetric positive-definite
`A`.  `ok` is false (and `L` partial) as soon as a pivot is not positive,
which the minimizers use as their test for a usable Hessian.
"""
function cholesky_lower(A::AbstractMatrix{T}) where {T<:Real}
    n = size(A, 1)
    size(A, 2) == n || throw(DimensionMismatch("matrix is not square"))
    F = float(T)
    L = zeros(F, n, n)
    for j in 1:n
        s = F(A[j, j])
        for k in 1:(j - 1)
            s -= L[j, k]^2
        end
        (s > 0 && isfinite(s)) || return L, false
        d = sqrt(s)
        L[j, j] = d
        for i in (j + 1):n
            t = F(A[i, j])
            for k in 1:(j - 1)
                t -= L[i, k] * L[j, k]
            end
            L[i, j] = t / d
        end
    end
    L, true
end

"""
    cholesky_solve(L, b)

Solve `(L L') x = b` by forward and back substitution.
"""
function cholesky_solve(L::AbstractMatrix{T}, b::AbstractVector) where {T}
    n = length(b)
    y = Vector{T}(undef, n)
    for i in 1:n
        s = T(b[i])
        for k in 1:(i - 1)
            s -= L[i, k] * y[k]
        end
        y[i] = s / L[i, i]
    end
    x = Vector{T}(undef, n)
    for i in n:-1:1
        s = y[i]
        for k in (i + 1):n
            s -= L[k, i] * x[k]
        end
        x[i] = s / L[i, i]
    end
    x
end

"""
    spd_inverse(A) -> (Ainv, ok)

Inverse of a symmetric positive-definite matrix via its Cholesky factor;
the result is symmetrised so rounding cannot make a covariance matrix
asymmetric.
"""
function spd_inverse(A::AbstractMatrix{T}) where {T<:Real}
    L, ok = cholesky_lower(A)
    n = size(A, 1)
    F = eltype(L)
    ok || return fill(F(NaN), n, n), false
    inv = zeros(F, n, n)
    e = zeros(F, n)
    for j in 1:n
        fill!(e, zero(F))
        e[j] = one(F)
        inv[:, j] = cholesky_solve(L, e)
    end
    for j in 1:n, i in (j + 1):n
        m = (inv[i, j] + inv[j, i]) / 2
        inv[i, j] = m
        inv[j, i] = m
    end
    inv, true
end

"""
    solve_linear(A, b)

General solve by Gaussian elimination with partial pivoting, for the
non-symmetric systems of the Jacobian propagation.
"""
function solve_linear(A::AbstractMatrix{T}, b::AbstractVector{S}) where {T<:Real,S<:Real}
    F = float(promote_type(T, S))
    n = size(A, 1)
    M = F.(A)
    x = F.(b)
    for k in 1:n
        p = k
        for i in (k + 1):n
            abs(M[i, k]) > abs(M[p, k]) && (p = i)
        end
        iszero(M[p, k]) && throw(ArgumentError("singular matrix"))
        if p != k
            for j in 1:n
                M[k, j], M[p, j] = M[p, j], M[k, j]
            end
            x[k], x[p] = x[p], x[k]
        end
        for i in (k + 1):n
            f = M[i, k] / M[k, k]
            iszero(f) && continue
            for j in k:n
                M[i, j] -= f * M[k, j]
            end
            x[i] -= f * x[k]
        end
    end
    for i in n:-1:1
        s = x[i]
        for j in (i + 1):n
            s -= M[i, j] * x[j]
        end
        x[i] = s / M[i, i]
    end
    x
end

"""
    matmul(A, B)

Plain triple loop product (no BLAS), any element types.
"""
function matmul(A::AbstractMatrix{T}, B::AbstractMatrix{S}) where {T,S}
    size(A, 2) == size(B, 1) || throw(DimensionMismatch("inner dimensions differ"))
    R = promote_type(T, S)
    C = zeros(R, size(A, 1), size(B, 2))
    for j in 1:size(B, 2), k in 1:size(A, 2)
        b = B[k, j]
        for i in 1:size(A, 1)
            C[i, j] += A[i, k] * b
        end
    end
    C
end

function matmul(A::AbstractMatrix{T}, v::AbstractVector{S}) where {T,S}
    size(A, 2) == length(v) || throw(DimensionMismatch("inner dimensions differ"))
    R = promote_type(T, S)
    out = zeros(R, size(A, 1))
    for k in 1:size(A, 2), i in 1:size(A, 1)
        out[i] += A[i, k] * v[k]
    end
    out
end

"""
    quadform(v, A)

`v' * A * v`.
"""
function quadform(v::AbstractVector{T}, A::AbstractMatrix{S}) where {T,S}
    R = promote_type(T, S)
    s = zero(R)
    for j in eachindex(v), i in eachindex(v)
        s += v[i] * A[i, j] * v[j]
    end
    s
end

_dot(a::AbstractVector, b::AbstractVector) = sum(a[i] * b[i] for i in eachindex(a, b))
_norm(a::AbstractVector) = sqrt(_dot(a, a))
