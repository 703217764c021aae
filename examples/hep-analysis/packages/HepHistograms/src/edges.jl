# Bin lookup shared by all histogram kinds.  Index 0 means underflow,
# nbins+1 overflow, -1 a value that cannot be placed (NaN).

_checkedges(e::AbstractRange) = (length(e) >= 2 && step(e) > 0) ||
    throw(ArgumentError("bin edges must be increasing with at least one bin"))
function _checkedges(e::AbstractVector)
    length(e) >= 2 || throw(ArgumentError("need at least one bin"))
    all(i -> e[i] < e[i + 1], 1:(length(e) - 1)) ||
        throw(ArgumentError("bin edges must be strictly increasing"))
    true
end

function _findbin(e::AbstractRange, x::Real)
    isnan(x) && return -1
    n = length(e) - 1
    x < first(e) && return 0
    x >= last(e) && return n + 1
    i = clamp(floor(Int, (x - first(e)) / step(e)) + 1, 1, n)
    # The division can land one bin off near an edge; correct against the
    # edges themselves so lookups agree with the vector version exactly.
    if x < e[i]
        i -= 1
    elseif x >= e[i + 1]
        i += 1
    end
    i
end

function _findbin(e::AbstractVector, x::Real)
    isnan(x) && return -1
    n = length(e) - 1
    x < first(e) && return 0
    x >= last(e) && return n + 1
    searchsortedlast(e, x)
end

_centers(e::AbstractVector) = [(e[i] + e[i + 1]) / 2 for i in 1:(length(e) - 1)]
_widths(e::AbstractVector) = [e[i + 1] - e[i] for i in 1:(length(e) - 1)]

_rebin_edges(e::AbstractRange, k::Int) = range(first(e), last(e); length=(length(e) - 1) ÷ k + 1)
_rebin_edges(e::AbstractVector, k::Int) = e[1:k:end]

function _check_rebin(e::AbstractVector, k::Integer)
    k >= 1 || throw(ArgumentError("rebin factor must be positive"))
    (length(e) - 1) % k == 0 ||
        throw(ArgumentError("$(length(e) - 1) bins cannot be grouped by $k"))
    Int(k)
end
