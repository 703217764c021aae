"""
    Profile1D{T}(edges)

Mean of y in bins of x, accumulated in precision `T`.  Stores raw sums
rather than running means so profiles from separate jobs merge exactly.
"""
mutable struct Profile1D{T<:AbstractFloat,E<:AbstractVector{<:Real}} <: AbstractHistogram{T,1}
    edges::E
    sumw::Vector{T}
    sumwy::Vector{T}
    sumwy2::Vector{T}
    n::Vector{Int}
    nentries::Int
    function Profile1D{T,E}(edges::E) where {T,E}
        _checkedges(edges)
        k = length(edges) - 1
        new{T,E}(edges, zeros(T, k), zeros(T, k), zeros(T, k), zeros(Int, k), 0)
    end
end

Profile1D{T}(edges::E) where {T<:AbstractFloat,E<:AbstractVector{<:Real}} = Profile1D{T,E}(edges)
Profile1D{T}(n::Integer, lo::Real, hi::Real) where {T<:AbstractFloat} =
    Profile1D{T}(range(float(lo), float(hi); length=n + 1))
Profile1D(edges::AbstractVector{<:Real}) = Profile1D{Float64}(edges)

nbins(p::Profile1D) = length(p.sumw)
binedges(p::Profile1D) = p.edges
bincenters(p::Profile1D) = _centers(p.edges)
binwidths(p::Profile1D) = _widths(p.edges)
findbin(p::Profile1D, x::Real) = _findbin(p.edges, x)

function Base.fill!(p::Profile1D{T}, x::Real, y::Real, w::Real=one(T)) where {T}
    p.nentries += 1
    i = _findbin(p.edges, x)
    1 <= i <= nbins(p) || return p
    wt, yt = T(w), T(y)
    @inbounds begin
        p.sumw[i] += wt
        p.sumwy[i] += wt * yt
        p.sumwy2[i] += wt * yt * yt
        p.n[i] += 1
    end
    p
end

function reset!(p::Profile1D{T}) where {T}
    fill!(p.sumw, zero(T))
    fill!(p.sumwy, zero(T))
    fill!(p.sumwy2, zero(T))
    fill!(p.n, 0)
    p.nentries = 0
    p
end

"""
    binmeans(p)

Mean of y per bin; NaN for empty bins so they are distinguishable from a
genuine zero mean.
"""
binmeans(p::Profile1D{T}) where {T} =
    [iszero(p.sumw[i]) ? T(NaN) : p.sumwy[i] / p.sumw[i] for i in 1:nbins(p)]

"""
    binerrors(p)

Standard error of the mean per bin.
"""
function binerrors(p::Profile1D{T}) where {T}
    out = Vector{T}(undef, nbins(p))
    for i in 1:nbins(p)
        if p.n[i] < 2 || iszero(p.sumw[i])
            out[i] = T(NaN)
        else
            μ = p.sumwy[i] / p.sumw[i]
            v = max(p.sumwy2[i] / p.sumw[i] - μ^2, zero(T))
            out[i] = sqrt(v / p.n[i])
        end
    end
    out
end

bincontents(p::Profile1D) = binmeans(p)
integral(p::Profile1D; flow::Bool=false) = sum(p.sumw)

compatible(a::Profile1D, b::Profile1D) = a.edges == b.edges

function Base.merge!(a::Profile1D{T}, b::Profile1D) where {T}
    compatible(a, b) || throw(ArgumentError("cannot merge profiles with different binning"))
    a.sumw .+= T.(b.sumw)
    a.sumwy .+= T.(b.sumwy)
    a.sumwy2 .+= T.(b.sumwy2)
    a.n .+= b.n
    a.nentries += b.nentries
    a
end

function Base.merge(a::Profile1D{T,E}, b::Profile1D{S}) where {T,S,E}
    out = Profile1D{promote_type(T, S),E}(a.edges)
    merge!(merge!(out, a), b)
end
Base.copy(p::Profile1D{T,E}) where {T,E} = merge!(Profile1D{T,E}(p.edges), p)

"""
    mean(p::Profile1D)

Overall weighted mean of y, over all in-range entries.
"""
mean(p::Profile1D) = sum(p.sumwy) / sum(p.sumw)

function std(p::Profile1D)
    sw = sum(p.sumw)
    μ = sum(p.sumwy) / sw
    sqrt(max(sum(p.sumwy2) / sw - μ^2, zero(μ)))
end

function Base.show(io::IO, p::Profile1D{T}) where {T}
    print(io, "Profile1D{", T, "}(", nbins(p), " bins in [", first(p.edges), ", ",
          last(p.edges), "), ", p.nentries, " entries)")
end
