"""
    DijetSample{T}

Dijet masses of the events passing a dijet selection, with event weights
and whether the event came from the resonance.
"""
struct DijetSample{T<:AbstractFloat}
    name::String
    mjj::Vector{T}
    weight::Vector{T}
    resonance::Vector{Bool}
    nevents::Int
end

Base.length(s::DijetSample) = length(s.mjj)

"""
    dijet_masses(name, events, algorithm; ptmin=25, ymax=2.5, lead_ptmin=60, max_dy=1.3)

Cluster each event, select jets and return the dijet mass of the two
leading jets for events that pass the leading-jet and rapidity-gap cuts
(the same selection as HepAnalysis' dijet analysis).
"""
function dijet_masses(name::AbstractString, events::AbstractVector{Event{T}},
                      alg::AbstractJetAlgorithm; ptmin::Real=25.0, ymax::Real=2.5,
                      lead_ptmin::Real=60.0, max_dy::Real=1.3) where {T}
    sel = PtMin(ptmin) & AbsRapMax(ymax)
    m = T[]
    w = T[]
    res = Bool[]
    for ev in events
        cs = cluster(ev.particles, alg)
        jets = select_jets(inclusive_jets(cs; ptmin=10), sel)
        length(jets) >= 2 || continue
        j1, j2 = jets[1], jets[2]
        pt(j1) >= lead_ptmin || continue
        abs(deltarapidity(j1, j2)) <= max_dy || continue
        push!(m, invariant_mass(j1, j2))
        push!(w, ev.weight)
        push!(res, ev.process === :resonance)
    end
    DijetSample{T}(String(name), m, w, res, length(events))
end

"""
    histogram_arrays(h)

(edges, counts, errors) of a HepHistograms histogram, for the binned
objectives of HepFits (which do not depend on HepHistograms).
"""
histogram_arrays(h::Hist1D{W}) where {W} =
    (collect(Float64, binedges(h)), collect(bincontents(h)), W.(binerrors(h)))

"""
    toy_histogram(T, x, lo, hi, nbins)

Counts of `x` in `nbins` equal bins, filled through HepHistograms so the
binned fits see exactly what an analysis histogram would hold.
"""
function toy_histogram(::Type{T}, x::AbstractVector, lo::Real, hi::Real, nbins::Integer) where {T}
    h = Hist1D{T}(nbins, lo, hi)
    for v in x
        fill!(h, v)
    end
    h
end
