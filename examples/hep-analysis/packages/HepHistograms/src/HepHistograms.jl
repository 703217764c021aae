"""
    HepHistograms

Fixed-binning histograms for event loops: 1D and 2D histograms and 1D
profiles, generic over the weight type (`Int` for plain counting,
`Float32`/`Float64` for weighted events) and over the edge container
(ranges give O(1) bin lookup, arbitrary sorted vectors give variable bins).
"""
module HepHistograms

using Printf
import Statistics
import Statistics: mean, std, var, cor

export AbstractHistogram, Hist1D, Hist2D, Profile1D,
       nbins, binedges, bincenters, binwidths, bincontents, binerrors, findbin,
       entries, underflow, overflow, outofrange, integral, normalize, scale, rebin,
       projectx, projecty, binmeans, reset!, compatible,
       render, writecsv, mean, std, var, cor

include("edges.jl")
include("hist1d.jl")
include("hist2d.jl")
include("profile.jl")
include("render.jl")
include("csv.jl")

end # module
