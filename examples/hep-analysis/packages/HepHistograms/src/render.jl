# Plain-text rendering for batch logs, where there is no display to plot on.
# Number formatting is explicit (not `show`) so output is stable across
# precisions and Julia versions and can be diffed between runs.

_fmt(x::Integer) = string(x)
_fmt(x::AbstractFloat) = isnan(x) ? "nan" : @sprintf("%.4g", x)
_fmt(x::Real) = _fmt(float(x))

const _SHADES = (' ', '.', ':', '-', '=', '+', '*', '#', '%', '@')

function _bar(frac::Real, width::Int)
    k = isfinite(frac) ? clamp(round(Int, frac * width), 0, width) : 0
    string(repeat('#', k), repeat(' ', width - k))
end

function _edgelabels(e::AbstractVector)
    lo = [_fmt(e[i]) for i in 1:(length(e) - 1)]
    hi = [_fmt(e[i + 1]) for i in 1:(length(e) - 1)]
    wl = maximum(length, lo)
    wh = maximum(length, hi)
    ["[" * lpad(lo[i], wl) * ", " * lpad(hi[i], wh) * ")" for i in eachindex(lo)]
end

"""
    render(io, h; width=40, title="")

ASCII bar chart of a 1D histogram, one line per bin, followed by flow and
summary statistics.
"""
function render(io::IO, h::Hist1D; width::Int=40, title::AbstractString="")
    isempty(title) || println(io, title)
    labels = _edgelabels(h.edges)
    vals = [_fmt(c) for c in h.counts]
    wv = maximum(length, vals)
    top = maximum(h.counts)
    for i in 1:nbins(h)
        frac = top > 0 ? h.counts[i] / top : 0.0
        println(io, "  ", labels[i], " |", _bar(max(frac, 0), width), "| ", lpad(vals[i], wv))
    end
    sw = integral(h)
    μ = iszero(sw) ? "nan" : _fmt(mean(h))
    σ = iszero(sw) ? "nan" : _fmt(std(h))
    println(io, "  entries=", h.nentries, " integral=", _fmt(sw), " under=", _fmt(h.underflow),
            " over=", _fmt(h.overflow), " mean=", μ, " std=", σ)
    nothing
end

"""
    render(io, h::Hist2D; title="")

Shaded map, y increasing upwards, one character per bin.
"""
function render(io::IO, h::Hist2D; title::AbstractString="")
    isempty(title) || println(io, title)
    nx, ny = nbins(h)
    top = maximum(h.counts)
    ylab = [_fmt(h.yedges[j]) for j in 1:ny]
    wy = maximum(length, ylab)
    for j in ny:-1:1
        row = IOBuffer()
        for i in 1:nx
            c = h.counts[i, j]
            k = top > 0 && c > 0 ? clamp(ceil(Int, c / top * (length(_SHADES) - 1)), 1,
                                         length(_SHADES) - 1) : 0
            print(row, _SHADES[k + 1])
        end
        println(io, "  ", lpad(ylab[j], wy), " |", String(take!(row)), "|")
    end
    println(io, "  ", repeat(' ', wy), " +", repeat('-', nx), "+")
    println(io, "  ", repeat(' ', wy), "  x: ", _fmt(first(h.xedges)), " .. ",
            _fmt(last(h.xedges)), "  y: ", _fmt(first(h.yedges)), " .. ", _fmt(last(h.yedges)))
    sw = integral(h)
    if iszero(sw)
        println(io, "  entries=", h.nentries, " (empty)")
    else
        println(io, "  entries=", h.nentries, " integral=", _fmt(sw), " out=",
                _fmt(h.outofrange), " mean=(", _fmt(mean(h, 1)), ", ", _fmt(mean(h, 2)),
                ") corr=", _fmt(cor(h)))
    end
    nothing
end

"""
    render(io, p::Profile1D; width=40, title="")

Mean ± error per bin, with the mean marked on a common scale.
"""
function render(io::IO, p::Profile1D; width::Int=40, title::AbstractString="")
    isempty(title) || println(io, title)
    labels = _edgelabels(p.edges)
    μs = binmeans(p)
    σs = binerrors(p)
    finite = filter(isfinite, μs)
    lo, hi = isempty(finite) ? (0.0, 1.0) : (minimum(finite), maximum(finite))
    span = hi > lo ? hi - lo : one(hi)
    for i in 1:nbins(p)
        line = fill(' ', width + 1)
        if isfinite(μs[i])
            line[clamp(round(Int, (μs[i] - lo) / span * width), 0, width) + 1] = '*'
        end
        println(io, "  ", labels[i], " |", String(line), "| ", lpad(_fmt(μs[i]), 9),
                " +- ", rpad(_fmt(σs[i]), 9), " n=", p.n[i])
    end
    println(io, "  entries=", p.nentries, " mean=", _fmt(mean(p)), " std=", _fmt(std(p)))
    nothing
end

render(h::AbstractHistogram; kwargs...) = render(stdout, h; kwargs...)

Base.show(io::IO, ::MIME"text/plain", h::AbstractHistogram) = render(io, h)
