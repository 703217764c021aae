# Resampling estimates of statistical uncertainties for statistics with no
# simple error formula (fitted parameters, ratios, quantiles).  Every
# function takes an explicit RNG so results are reproducible.

"""
    BootstrapResult{T}

Replica values (`replicas[r, q]`), the statistic on the original sample
and summaries.
"""
struct BootstrapResult{T<:AbstractFloat}
    original::Vector{T}
    replicas::Matrix{T}
end

Base.eltype(::BootstrapResult{T}) where {T} = T
nreplicas(b::BootstrapResult) = size(b.replicas, 1)
bias(b::BootstrapResult{T}) where {T} = vec(_colmean(b.replicas)) .- b.original
"""
    bootstrap_errors(b)

Standard deviation of each quantity over the replicas.
"""
bootstrap_errors(b::BootstrapResult{T}) where {T} =
    sqrt.(max.(diag_of(sample_covariance(b.replicas)), zero(T)))
sample_covariance(b::BootstrapResult) = sample_covariance(b.replicas)

diag_of(A::AbstractMatrix) = [A[i, i] for i in 1:min(size(A)...)]

function _colmean(A::AbstractMatrix{T}) where {T}
    n = size(A, 1)
    out = zeros(T, 1, size(A, 2))
    for j in 1:size(A, 2)
        acc = KahanSum{T}()
        for i in 1:n
            acc += A[i, j]
        end
        out[1, j] = sum(acc) / n
    end
    out
end

"""
    sample_covariance(rows)

Unbiased covariance of the columns of a (samples × variables) matrix.
"""
function sample_covariance(A::AbstractMatrix{T}) where {T}
    n, p = size(A)
    μ = _colmean(A)
    C = zeros(T, p, p)
    n < 2 && return fill(T(NaN), p, p)
    for j in 1:p, i in j:p
        acc = KahanSum{T}()
        for r in 1:n
            acc += (A[r, i] - μ[i]) * (A[r, j] - μ[j])
        end
        C[i, j] = C[j, i] = sum(acc) / (n - 1)
    end
    C
end

"""
    sample_correlation(rows)

Correlation matrix of the columns.
"""
function sample_correlation(A::AbstractMatrix{T}) where {T}
    C = sample_covariance(A)
    p = size(C, 1)
    [C[i, j] / sqrt(C[i, i] * C[j, j]) for i in 1:p, j in 1:p]
end

"""
    bootstrap(stat, rng, x; nrep=100)

Resample `x` with replacement `nrep` times and evaluate `stat(sample)`
(which returns a vector) on each.
"""
function bootstrap(stat, rng::AbstractRNG, x::AbstractVector{T}; nrep::Integer=100) where {T}
    orig = _tovec(stat(x))
    F = eltype(orig)
    reps = Matrix{F}(undef, nrep, length(orig))
    n = length(x)
    buf = similar(x)
    for r in 1:nrep
        for i in 1:n
            buf[i] = x[rand(rng, 1:n)]
        end
        v = _tovec(stat(buf))
        for q in eachindex(orig)
            reps[r, q] = v[q]
        end
    end
    BootstrapResult{F}(orig, reps)
end

_tovec(v::AbstractVector{<:AbstractFloat}) = collect(v)
_tovec(v::AbstractFloat) = [v]
_tovec(v::Tuple) = collect(float.(promote(v...)))

"""
    poisson_bootstrap(stat, rng, x, w; nrep=100)

Weighted bootstrap: each replica multiplies event weights by independent
Poisson(1) draws, which keeps the event list (and its order) fixed; this
is the form that parallelises across jobs.  `stat(x, w)` gets the
re-weighted sample.
"""
function poisson_bootstrap(stat, rng::AbstractRNG, x::AbstractVector{T}, w::AbstractVector{T};
                           nrep::Integer=100) where {T}
    orig = _tovec(stat(x, w))
    F = eltype(orig)
    reps = Matrix{F}(undef, nrep, length(orig))
    wr = similar(w)
    for r in 1:nrep
        for i in eachindex(w)
            wr[i] = w[i] * _poisson1(rng)
        end
        v = _tovec(stat(x, wr))
        for q in eachindex(orig)
            reps[r, q] = v[q]
        end
    end
    BootstrapResult{F}(orig, reps)
end

# Poisson(1) by inversion: the CDF table is short and exact enough.
const _P1_CDF = let c = Float64[], s = 0.0, p = exp(-1.0)
    for k in 0:15
        s += p
        push!(c, s)
        p /= (k + 1)
    end
    c
end

function _poisson1(rng::AbstractRNG)
    u = rand(rng)
    for k in eachindex(_P1_CDF)
        u <= _P1_CDF[k] && return k - 1
    end
    length(_P1_CDF)
end

"""
    jackknife(stat, x; blocks=10)

Delete-a-block jackknife: returns (estimate, bias-corrected estimate,
standard error) per component of `stat`.
"""
function jackknife(stat, x::AbstractVector; blocks::Integer=10)
    n = length(x)
    blocks = min(blocks, n)
    full = _tovec(stat(x))
    F = eltype(full)
    vals = Matrix{F}(undef, blocks, length(full))
    for b in 1:blocks
        lo = div((b - 1) * n, blocks) + 1
        hi = div(b * n, blocks)
        sub = vcat(x[1:(lo - 1)], x[(hi + 1):n])
        v = _tovec(stat(sub))
        for q in eachindex(full)
            vals[b, q] = v[q]
        end
    end
    m = vec(_colmean(vals))
    corrected = blocks .* full .- (blocks - 1) .* m
    se = similar(full)
    for q in eachindex(full)
        acc = zero(F)
        for b in 1:blocks
            acc += (vals[b, q] - m[q])^2
        end
        se[q] = sqrt((blocks - 1) / blocks * acc)
    end
    (estimate=full, corrected=corrected, stderr=se)
end

"""
    quantile_sorted(v, p)

Linear-interpolation quantile of an already sorted vector.
"""
function quantile_sorted(v::AbstractVector{T}, p::Real) where {T}
    n = length(v)
    n == 0 && return T(NaN)
    h = (n - 1) * p + 1
    lo = clamp(floor(Int, h), 1, n)
    hi = min(lo + 1, n)
    v[lo] + (h - lo) * (v[hi] - v[lo])
end

"""
    percentile_interval(b, q; level=0.68)

Central bootstrap percentile interval for quantity `q`.
"""
function percentile_interval(b::BootstrapResult{T}, q::Integer; level::Real=0.68) where {T}
    v = sort(b.replicas[:, q])
    α = (1 - level) / 2
    (quantile_sorted(v, α), quantile_sorted(v, 1 - α))
end

"""
    weighted_mean_var(x, w)

Weighted mean and the variance of the mean (Σw²-based effective count),
compensated sums in the precision of `x`.
"""
function weighted_mean_var(x::AbstractVector{T}, w::AbstractVector{T}) where {T}
    sw = KahanSum{T}()
    swx = KahanSum{T}()
    sw2 = KahanSum{T}()
    for i in eachindex(x)
        sw += w[i]
        swx += w[i] * x[i]
        sw2 += w[i]^2
    end
    W = sum(sw)
    iszero(W) && return (T(NaN), T(NaN))
    μ = sum(swx) / W
    sv = KahanSum{T}()
    for i in eachindex(x)
        sv += w[i] * (x[i] - μ)^2
    end
    var = sum(sv) / W
    neff = W^2 / sum(sw2)
    (μ, var / neff)
end
