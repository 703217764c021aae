"""
    Hist2D{W}(xedges, yedges)

Two-dimensional histogram.  Out-of-range entries are summed into a single
`outofrange` counter: with two axes there are eight flow regions, which an
event-loop summary never needs individually.
"""
mutable struct Hist2D{W<:Real,EX<:AbstractVector{<:Real},EY<:AbstractVector{<:Real}} <:
               AbstractHistogram{W,2}
    xedges::EX
    yedges::EY
    counts::Matrix{W}
    sumw2::Matrix{W}
    outofrange::W
    nentries::Int
    function Hist2D{W,EX,EY}(xe::EX, ye::EY) where {W,EX,EY}
        _checkedges(xe)
        _checkedges(ye)
        nx, ny = length(xe) - 1, length(ye) - 1
        new{W,EX,EY}(xe, ye, zeros(W, nx, ny), zeros(W, nx, ny), zero(W), 0)
    end
end

Hist2D{W}(xe::EX, ye::EY) where {W<:Real,EX<:AbstractVector{<:Real},EY<:AbstractVector{<:Real}} =
    Hist2D{W,EX,EY}(xe, ye)
Hist2D(xe::AbstractVector{<:Real}, ye::AbstractVector{<:Real}) = Hist2D{Int}(xe, ye)

nbins(h::Hist2D) = size(h.counts)
binedges(h::Hist2D) = (h.xedges, h.yedges)
bincenters(h::Hist2D) = (_centers(h.xedges), _centers(h.yedges))
bincontents(h::Hist2D) = h.counts
binerrors(h::Hist2D) = sqrt.(float.(h.sumw2))
findbin(h::Hist2D, x::Real, y::Real) = (_findbin(h.xedges, x), _findbin(h.yedges, y))
outofrange(h::Hist2D) = h.outofrange

function Base.fill!(h::Hist2D{W}, x::Real, y::Real, w::Real=one(W)) where {W}
    wt = convert(W, w)
    h.nentries += 1
    i = _findbin(h.xedges, x)
    j = _findbin(h.yedges, y)
    (i < 0 || j < 0) && return h
    nx, ny = size(h.counts)
    if 1 <= i <= nx && 1 <= j <= ny
        @inbounds h.counts[i, j] += wt
        @inbounds h.sumw2[i, j] += wt * wt
    else
        h.outofrange += wt
    end
    h
end

function reset!(h::Hist2D{W}) where {W}
    fill!(h.counts, zero(W))
    fill!(h.sumw2, zero(W))
    h.outofrange = zero(W)
    h.nentries = 0
    h
end

integral(h::Hist2D; flow::Bool=false) = flow ? sum(h.counts) + h.outofrange : sum(h.counts)

compatible(a::Hist2D, b::Hist2D) = a.xedges == b.xedges && a.yedges == b.yedges

function Base.merge!(a::Hist2D{W}, b::Hist2D) where {W}
    compatible(a, b) || throw(ArgumentError("cannot merge histograms with different binning"))
    a.counts .+= convert.(W, b.counts)
    a.sumw2 .+= convert.(W, b.sumw2)
    a.outofrange += convert(W, b.outofrange)
    a.nentries += b.nentries
    a
end

function Base.copy(h::Hist2D{W,EX,EY}) where {W,EX,EY}
    out = Hist2D{W,EX,EY}(h.xedges, h.yedges)
    merge!(out, h)
end

function Base.merge(a::Hist2D{W,EX,EY}, b::Hist2D{V}) where {W,V,EX,EY}
    out = Hist2D{promote_type(W, V),EX,EY}(a.xedges, a.yedges)
    merge!(merge!(out, a), b)
end
Base.:+(a::Hist2D, b::Hist2D) = merge(a, b)

function scale(h::Hist2D{W,EX,EY}, s::Real) where {W,EX,EY}
    V = promote_type(W, typeof(s))
    out = Hist2D{V,EX,EY}(h.xedges, h.yedges)
    out.counts .= h.counts .* s
    out.sumw2 .= h.sumw2 .* s^2
    out.outofrange = h.outofrange * s
    out.nentries = h.nentries
    out
end

function normalize(h::Hist2D{W}; mode::Symbol=:probability) where {W}
    tot = integral(h)
    iszero(tot) && return scale(h, one(float(W)))
    mode === :probability || throw(ArgumentError("2D histograms support mode=:probability only"))
    scale(h, inv(float(W)(tot)))
end

"""
    projectx(h), projecty(h)

Marginal distributions, with the other axis fully integrated (in range).
"""
function projectx(h::Hist2D{W}) where {W}
    out = Hist1D{W}(h.xedges)
    out.counts .= vec(sum(h.counts; dims=2))
    out.sumw2 .= vec(sum(h.sumw2; dims=2))
    out.nentries = h.nentries
    out
end

function projecty(h::Hist2D{W}) where {W}
    out = Hist1D{W}(h.yedges)
    out.counts .= vec(sum(h.counts; dims=1))
    out.sumw2 .= vec(sum(h.sumw2; dims=1))
    out.nentries = h.nentries
    out
end

"""
    mean(h::Hist2D, dim)

Binned mean along axis `dim` (1 = x, 2 = y).
"""
mean(h::Hist2D, dim::Integer) = dim == 1 ? mean(projectx(h)) :
                                 dim == 2 ? mean(projecty(h)) :
                                 throw(ArgumentError("dim must be 1 or 2"))
std(h::Hist2D, dim::Integer) = dim == 1 ? std(projectx(h)) :
                               dim == 2 ? std(projecty(h)) :
                               throw(ArgumentError("dim must be 1 or 2"))

"""
    cor(h::Hist2D)

Binned correlation coefficient between the two axes.
"""
function cor(h::Hist2D)
    cx, cy = bincenters(h)
    F = float(promote_type(eltype(h.counts), eltype(cx), eltype(cy)))
    sw = sx = sy = sxx = syy = sxy = zero(F)
    for j in axes(h.counts, 2), i in axes(h.counts, 1)
        w = F(h.counts[i, j])
        x, y = F(cx[i]), F(cy[j])
        sw += w
        sx += w * x
        sy += w * y
        sxx += w * x * x
        syy += w * y * y
        sxy += w * x * y
    end
    vx = sxx / sw - (sx / sw)^2
    vy = syy / sw - (sy / sw)^2
    (sxy / sw - (sx / sw) * (sy / sw)) / sqrt(vx * vy)
end

function Base.show(io::IO, h::Hist2D{W}) where {W}
    nx, ny = nbins(h)
    print(io, "Hist2D{", W, "}(", nx, "×", ny, " bins, ", h.nentries, " entries)")
end
