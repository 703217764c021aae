"""
    Jet{T}

A clustered jet: its four-momentum and the indices of its constituents in
the input vector.  Jets are four-momenta themselves, so every FourVectors
observable applies directly.
"""
struct Jet{T<:AbstractFloat} <: AbstractFourMomentum{T}
    p::FourVector{T}
    constituents::Vector{Int}
end

FourVectors.px(j::Jet) = j.p.px
FourVectors.py(j::Jet) = j.p.py
FourVectors.pz(j::Jet) = j.p.pz
FourVectors.energy(j::Jet) = j.p.E

momentum(j::Jet) = j.p
constituents(j::Jet) = j.constituents
nconstituents(j::Jet) = length(j.constituents)
Jet{S}(j::Jet) where {S<:AbstractFloat} = Jet{S}(FourVector{S}(j.p), copy(j.constituents))

function Base.show(io::IO, j::Jet)
    print(io, "Jet(pt=", pt(j), ", y=", rapidity(j), ", phi=", phi(j), ", m=", mass(j),
          ", n=", nconstituents(j), ")")
end

function _constituents(cs::ClusterSequence, h::Int)
    out = Int[]
    stack = [h]
    while !isempty(stack)
        k = pop!(stack)
        e = cs.history[k]
        if e.parent1 == INEXISTENT
            push!(out, k)   # input entries are numbered like the inputs
        else
            push!(stack, e.parent1)
            e.parent2 > 0 && push!(stack, e.parent2)
        end
    end
    sort!(out)
end

_makejet(cs::ClusterSequence{T}, h::Int) where {T} =
    Jet{T}(cs.jets[cs.history[h].jet].p, _constituents(cs, h))

_sort_by_pt!(jets::Vector{<:Jet}) = sort!(jets; by=pt2, rev=true)

"""
    inclusive_jets(cs; ptmin=0)

All jets that were merged with the beam, above `ptmin`, hardest first.
"""
function inclusive_jets(cs::ClusterSequence{T}; ptmin::Real=0) where {T}
    pt2min = T(ptmin)^2
    jets = Jet{T}[]
    for e in cs.history
        e.parent2 == BEAM || continue
        pj = cs.jets[cs.history[e.parent1].jet]
        pj.kt2 >= pt2min && push!(jets, _makejet(cs, e.parent1))
    end
    _sort_by_pt!(jets)
end

"""
    exclusive_jets(cs, njets)
    exclusive_jets(cs; dcut)

Jets obtained by stopping the clustering when `njets` remain, or when the
next merging distance would exceed `dcut`.  Only meaningful for algorithms
whose merging distances grow monotonically (kt, C/A).
"""
function exclusive_jets(cs::ClusterSequence{T}, njets::Integer) where {T}
    0 <= njets <= cs.ninitial ||
        throw(ArgumentError("requested $njets exclusive jets from $(cs.ninitial) inputs"))
    stop = length(cs.history) - njets
    jets = Jet{T}[]
    for i in (stop + 1):length(cs.history)
        e = cs.history[i]
        (INEXISTENT < e.parent1 <= stop) && push!(jets, _makejet(cs, e.parent1))
        (INEXISTENT < e.parent2 <= stop) && push!(jets, _makejet(cs, e.parent2))
    end
    _sort_by_pt!(jets)
end

exclusive_jets(cs::ClusterSequence; dcut::Real) = exclusive_jets(cs, n_exclusive_jets(cs, dcut))

"""
    n_exclusive_jets(cs, dcut)

Number of jets left when no merging above `dcut` has been performed.
"""
function n_exclusive_jets(cs::ClusterSequence{T}, dcut::Real) where {T}
    stop = length(cs.history)
    while stop > cs.ninitial && cs.history[stop].max_dij > dcut
        stop -= 1
    end
    length(cs.history) - stop
end

"""
    exclusive_dmerge(cs, njets)

Distance of the step that went from `njets + 1` to `njets` jets
(FastJet's definition); zero when that step never happened.
"""
function exclusive_dmerge(cs::ClusterSequence{T}, njets::Integer) where {T}
    i = length(cs.history) - njets
    i > cs.ninitial ? cs.history[i].dij : zero(T)
end

function exclusive_dmerge_max(cs::ClusterSequence{T}, njets::Integer) where {T}
    i = length(cs.history) - njets
    i > cs.ninitial ? cs.history[i].max_dij : zero(T)
end

# Substructure observables take the particle list explicitly because jets
# only store indices; this keeps Jet small and lets callers reuse one jet
# collection with different particle views (e.g. charged-only).

"""
    jet_width(jet, particles)

pt-weighted mean ΔR of the constituents from the jet axis.
"""
function jet_width(jet::Jet{T}, particles::AbstractVector{<:AbstractFourMomentum}) where {T}
    num = zero(T)
    den = zero(T)
    for i in jet.constituents
        q = particles[i]
        w = T(pt(q))
        num += w * T(deltaRy(q, jet))
        den += w
    end
    iszero(den) ? zero(T) : num / den
end

"""
    jet_girth(jet, particles)

Like `jet_width` but normalised to the jet pt rather than the scalar sum,
which differs for jets with large internal recoil.
"""
function jet_girth(jet::Jet{T}, particles::AbstractVector{<:AbstractFourMomentum}) where {T}
    num = zero(T)
    for i in jet.constituents
        q = particles[i]
        num += T(pt(q)) * T(deltaRy(q, jet))
    end
    ptj = pt(jet)
    iszero(ptj) ? zero(T) : num / ptj
end

"""
    jet_ptd(jet, particles)

sqrt(Σpt²)/Σpt: near 1 for jets dominated by one hard constituent.
"""
function jet_ptd(jet::Jet{T}, particles::AbstractVector{<:AbstractFourMomentum}) where {T}
    s1 = zero(T)
    s2 = zero(T)
    for i in jet.constituents
        w = T(pt(particles[i]))
        s1 += w
        s2 += w * w
    end
    iszero(s1) ? zero(T) : sqrt(s2) / s1
end

function leading_fraction(jet::Jet{T}, particles::AbstractVector{<:AbstractFourMomentum}) where {T}
    isempty(jet.constituents) && return zero(T)
    lead = maximum(T(pt(particles[i])) for i in jet.constituents)
    lead / pt(jet)
end

"""
    jet_charge(jet, particles, charges; kappa=0.5)

pt^κ-weighted constituent charge, normalised by pt_jet^κ.
"""
function jet_charge(jet::Jet{T}, particles::AbstractVector{<:AbstractFourMomentum},
                    charges::AbstractVector{<:Real}; kappa::Real=0.5) where {T}
    κ = T(kappa)
    q = zero(T)
    for i in jet.constituents
        c = charges[i]
        iszero(c) || (q += T(c) * T(pt(particles[i]))^κ)
    end
    ptj = pt(jet)
    iszero(ptj) ? zero(T) : q / ptj^κ
end
