"""
    RunningStats{T}

Weighted mean and spread of a stream of values, accumulated in `T`.
Unlike a histogram it has no binning bias, which is what the printed
summary needs.
"""
mutable struct RunningStats{T<:AbstractFloat}
    n::Int
    sumw::T
    sumwx::T
    sumwx2::T
    min::T
    max::T
end

RunningStats{T}() where {T} = RunningStats{T}(0, zero(T), zero(T), zero(T), T(Inf), T(-Inf))

function Base.push!(s::RunningStats{T}, x::Real, w::Real=one(T)) where {T}
    xt, wt = T(x), T(w)
    s.n += 1
    s.sumw += wt
    s.sumwx += wt * xt
    s.sumwx2 += wt * xt * xt
    s.min = min(s.min, xt)
    s.max = max(s.max, xt)
    s
end

function Base.merge!(a::RunningStats{T}, b::RunningStats) where {T}
    a.n += b.n
    a.sumw += T(b.sumw)
    a.sumwx += T(b.sumwx)
    a.sumwx2 += T(b.sumwx2)
    a.min = min(a.min, T(b.min))
    a.max = max(a.max, T(b.max))
    a
end

Statistics.mean(s::RunningStats{T}) where {T} = iszero(s.sumw) ? T(NaN) : s.sumwx / s.sumw
function Statistics.std(s::RunningStats{T}) where {T}
    iszero(s.sumw) && return T(NaN)
    μ = s.sumwx / s.sumw
    sqrt(max(s.sumwx2 / s.sumw - μ^2, zero(T)))
end
Base.length(s::RunningStats) = s.n

"""
    CutFlow{T}

Ordered event counts after each selection step, raw and weighted.
"""
struct CutFlow{T<:AbstractFloat}
    names::Vector{String}
    raw::Vector{Int}
    weighted::Vector{T}
end

CutFlow{T}(names::AbstractVector{<:AbstractString}) where {T} =
    CutFlow{T}(String.(names), zeros(Int, length(names)), zeros(T, length(names)))

"""
    pass!(cf, step, w)

Record that an event survived `step`; returns `true` so selections read as
`pass!(cf, 3, w) || return`.
"""
function pass!(cf::CutFlow{T}, step::Int, w::Real) where {T}
    cf.raw[step] += 1
    cf.weighted[step] += T(w)
    true
end

function Base.merge!(a::CutFlow{T}, b::CutFlow) where {T}
    a.names == b.names || throw(ArgumentError("cut flows have different steps"))
    a.raw .+= b.raw
    a.weighted .+= T.(b.weighted)
    a
end

efficiency(cf::CutFlow, step::Int) = cf.raw[1] == 0 ? 0.0 : cf.raw[step] / cf.raw[1]
