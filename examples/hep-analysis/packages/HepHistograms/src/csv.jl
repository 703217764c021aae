# A deliberately minimal CSV dialect (header line, comma separated, no
# quoting) that spreadsheet tools and `readdlm` both understand.

"""
    writecsv(io_or_path, h)

Write bin edges, contents and errors.  Returns the number of data rows.
"""
function writecsv(io::IO, h::Hist1D)
    println(io, "low,high,content,error")
    err = binerrors(h)
    for i in 1:nbins(h)
        println(io, _fmt(h.edges[i]), ",", _fmt(h.edges[i + 1]), ",", _fmt(h.counts[i]), ",",
                _fmt(err[i]))
    end
    nbins(h)
end

function writecsv(io::IO, h::Hist2D)
    println(io, "xlow,xhigh,ylow,yhigh,content,error")
    err = binerrors(h)
    nx, ny = nbins(h)
    for j in 1:ny, i in 1:nx
        println(io, _fmt(h.xedges[i]), ",", _fmt(h.xedges[i + 1]), ",", _fmt(h.yedges[j]), ",",
                _fmt(h.yedges[j + 1]), ",", _fmt(h.counts[i, j]), ",", _fmt(err[i, j]))
    end
    nx * ny
end

function writecsv(io::IO, p::Profile1D)
    println(io, "low,high,mean,error,n")
    μs = binmeans(p)
    σs = binerrors(p)
    for i in 1:nbins(p)
        println(io, _fmt(p.edges[i]), ",", _fmt(p.edges[i + 1]), ",", _fmt(μs[i]), ",",
                _fmt(σs[i]), ",", p.n[i])
    end
    nbins(p)
end

writecsv(path::AbstractString, h::AbstractHistogram) = open(io -> writecsv(io, h), path, "w")
