abstract type AbstractHistogram{W<:Real,N} end

"""
    Hist1D{W}(edges)
    Hist1D{W}(nbins, lo, hi)

One-dimensional histogram with weights of type `W`.  Sums of squared
weights are kept alongside the contents so errors survive merging and
rescaling.
"""
mutable struct Hist1D{W<:Real,E<:AbstractVector{<:Real}} <: AbstractHistogram{W,1}
    edges::E
    counts::Vector{W}
    sumw2::Vector{W}
    underflow::W
    overflow::W
    nentries::Int
    function Hist1D{W,E}(edges::E) where {W<:Real,E<:AbstractVector{<:Real}}
        _checkedges(edges)
        n = length(edges) - 1
        new{W,E}(edges, zeros(W, n), zeros(W, n), zero(W), zero(W), 0)
    end
end

Hist1D{W}(edges::E) where {W<:Real,E<:AbstractVector{<:Real}} = Hist1D{W,E}(edges)
Hist1D{W}(n::Integer, lo::Real, hi::Real) where {W<:Real} =
    Hist1D{W}(range(float(lo), float(hi); length=n + 1))
Hist1D(edges::AbstractVector{<:Real}) = Hist1D{Int}(edges)
Hist1D(n::Integer, lo::Real, hi::Real) = Hist1D{Int}(n, lo, hi)

Base.eltype(::Type{<:AbstractHistogram{W}}) where {W} = W
Base.ndims(::AbstractHistogram{W,N}) where {W,N} = N

nbins(h::Hist1D) = length(h.counts)
binedges(h::Hist1D) = h.edges
bincenters(h::Hist1D) = _centers(h.edges)
binwidths(h::Hist1D) = _widths(h.edges)
bincontents(h::Hist1D) = h.counts
binerrors(h::Hist1D) = sqrt.(float.(h.sumw2))
findbin(h::Hist1D, x::Real) = _findbin(h.edges, x)
entries(h::AbstractHistogram) = h.nentries
underflow(h::Hist1D) = h.underflow
overflow(h::Hist1D) = h.overflow

"""
    fill!(h, x, w=1)

Add `x` with weight `w`.  NaN values are counted as entries but never
binned, so a broken observable shows up as a mismatch between `entries`
and `integral` rather than as a silent spike in one bin.
"""
function Base.fill!(h::Hist1D{W}, x::Real, w::Real=one(W)) where {W}
    wt = convert(W, w)
    h.nentries += 1
    i = _findbin(h.edges, x)
    if i == 0
        h.underflow += wt
    elseif i == length(h.counts) + 1
        h.overflow += wt
    elseif i > 0
        @inbounds h.counts[i] += wt
        @inbounds h.sumw2[i] += wt * wt
    end
    h
end

Base.push!(h::Hist1D, x::Real) = fill!(h, x)

function Base.fill!(h::Hist1D, xs::AbstractVector{<:Real})
    for x in xs
        fill!(h, x)
    end
    h
end

function Base.fill!(h::Hist1D, xs::AbstractVector{<:Real}, ws::AbstractVector{<:Real})
    length(xs) == length(ws) || throw(DimensionMismatch("values and weights differ in length"))
    for (x, w) in zip(xs, ws)
        fill!(h, x, w)
    end
    h
end

function reset!(h::Hist1D{W}) where {W}
    fill!(h.counts, zero(W))
    fill!(h.sumw2, zero(W))
    h.underflow = h.overflow = zero(W)
    h.nentries = 0
    h
end

Base.copy(h::Hist1D{W,E}) where {W,E} = _with(Hist1D{W,E}(h.edges), h.counts, h.sumw2,
                                                h.underflow, h.overflow, h.nentries)

function _with(h::Hist1D, counts, sumw2, under, over, n)
    h.counts .= counts
    h.sumw2 .= sumw2
    h.underflow = under
    h.overflow = over
    h.nentries = n
    h
end

"""
    integral(h; flow=false)

Sum of bin contents, optionally including under- and overflow.
"""
integral(h::Hist1D; flow::Bool=false) =
    flow ? sum(h.counts) + h.underflow + h.overflow : sum(h.counts)

compatible(a::Hist1D, b::Hist1D) = a.edges == b.edges

"""
    merge!(a, b)

Add `b` into `a` (same binning required), e.g. to combine partial results
of parallel jobs.
"""
function Base.merge!(a::Hist1D{W}, b::Hist1D) where {W}
    compatible(a, b) || throw(ArgumentError("cannot merge histograms with different binning"))
    a.counts .+= convert.(W, b.counts)
    a.sumw2 .+= convert.(W, b.sumw2)
    a.underflow += convert(W, b.underflow)
    a.overflow += convert(W, b.overflow)
    a.nentries += b.nentries
    a
end

Base.merge(a::Hist1D{W}, b::Hist1D{V}) where {W,V} =
    merge!(_convert_weights(promote_type(W, V), a), b)
Base.:+(a::Hist1D, b::Hist1D) = merge(a, b)

function _convert_weights(::Type{V}, h::Hist1D{W,E}) where {V,W,E}
    _with(Hist1D{V,E}(h.edges), h.counts, h.sumw2, h.underflow, h.overflow, h.nentries)
end

"""
    scale(h, s)

New histogram with contents multiplied by `s`; weights are promoted as
needed, so scaling an `Int` histogram by 0.5 gives a `Float64` one.
"""
function scale(h::Hist1D{W,E}, s::Real) where {W,E}
    V = promote_type(W, typeof(s))
    _with(Hist1D{V,E}(h.edges), h.counts .* s, h.sumw2 .* s^2, h.underflow * s,
          h.overflow * s, h.nentries)
end
Base.:*(h::Hist1D, s::Real) = scale(h, s)
Base.:*(s::Real, h::Hist1D) = scale(h, s)

"""
    normalize(h; mode=:pdf)

`:pdf` gives unit area (contents divided by bin width), `:probability`
gives contents summing to one.  The result has floating-point weights of
the same precision as `h` (`Int` becomes `Float64`).
"""
function normalize(h::Hist1D{W,E}; mode::Symbol=:pdf) where {W,E}
    F = float(W)
    tot = F(integral(h))
    hn = _convert_weights(F, h)
    iszero(tot) && return hn
    if mode === :probability
        return scale(hn, inv(tot))
    elseif mode === :pdf
        w = binwidths(h)
        s = inv(tot)
        out = scale(hn, s)
        for i in eachindex(out.counts)
            out.counts[i] /= F(w[i])
            out.sumw2[i] /= F(w[i])^2
        end
        return out
    end
    throw(ArgumentError("unknown normalisation mode $mode"))
end

"""
    rebin(h, k)

Group every `k` adjacent bins.
"""
function rebin(h::Hist1D{W}, k::Integer) where {W}
    k = _check_rebin(h.edges, k)
    e = _rebin_edges(h.edges, k)
    out = Hist1D{W}(e)
    for i in 1:nbins(out)
        r = ((i - 1) * k + 1):(i * k)
        out.counts[i] = sum(view(h.counts, r))
        out.sumw2[i] = sum(view(h.sumw2, r))
    end
    _with(out, out.counts, out.sumw2, h.underflow, h.overflow, h.nentries)
end

# Moments use bin centres: exact per-entry sums would not survive merging
# histograms filled by different jobs, and binned moments do.
function _moments(h::Hist1D)
    c = bincenters(h)
    F = float(promote_type(eltype(h.counts), eltype(c)))
    sw = zero(F)
    swx = zero(F)
    swx2 = zero(F)
    for i in eachindex(h.counts)
        w = F(h.counts[i])
        x = F(c[i])
        sw += w
        swx += w * x
        swx2 += w * x * x
    end
    sw, swx, swx2
end

function mean(h::Hist1D)
    sw, swx, _ = _moments(h)
    swx / sw
end

function var(h::Hist1D)
    sw, swx, swx2 = _moments(h)
    μ = swx / sw
    max(swx2 / sw - μ^2, zero(μ))
end

std(h::Hist1D) = sqrt(var(h))

function Base.show(io::IO, h::Hist1D{W}) where {W}
    print(io, "Hist1D{", W, "}(", nbins(h), " bins in [", first(h.edges), ", ",
          last(h.edges), "), ", h.nentries, " entries)")
end
