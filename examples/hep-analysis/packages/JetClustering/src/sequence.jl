# History bookkeeping follows FastJet: the first N entries are the inputs,
# then one entry per clustering step (pair merge or merge with the beam), so
# a finished sequence always holds exactly 2N entries and exclusive jets can
# be read off by cutting the history at a fixed point.
const INEXISTENT = 0
const BEAM = -1

struct HistoryEntry{T}
    parent1::Int
    parent2::Int     # BEAM for a beam recombination
    jet::Int         # pseudojet created by this step; 0 for beam steps
    dij::T           # distance, normalised by R² for pair merges
    max_dij::T       # running maximum, monotone even for anti-kt
end

struct PseudoJet{T}
    p::FourVector{T}
    rap::T
    phi::T           # [0, 2π)
    kt2::T
    hist::Int        # history entry that created it
end

PseudoJet(p::FourVector{T}, hist::Int) where {T} =
    PseudoJet{T}(p, rapidity(p), phi02pi(p), pt2(p), hist)

"""
    ClusterSequence

Result of `cluster`: all pseudojets ever built and the full merging history,
from which inclusive and exclusive jets are extracted.
"""
struct ClusterSequence{T<:AbstractFloat,A<:AbstractJetAlgorithm,S<:RecombinationScheme}
    alg::A
    scheme::S
    R2::T
    ninitial::Int
    jets::Vector{PseudoJet{T}}
    history::Vector{HistoryEntry{T}}
end

Base.eltype(::ClusterSequence{T}) where {T} = T
history_length(cs::ClusterSequence) = length(cs.history)

function Base.show(io::IO, cs::ClusterSequence{T}) where {T}
    print(io, "ClusterSequence{", T, "}(", cs.alg, ", ", cs.scheme, ", ",
          cs.ninitial, " inputs)")
end

# Work arrays for the active pseudojets.  Kept as separate vectors rather
# than a vector of structs because the two hot loops (minimum search and
# neighbour scan) each touch only a couple of fields.
struct _Active{T}
    rap::Vector{T}
    phi::Vector{T}
    fac::Vector{T}
    nndist::Vector{T}
    nn::Vector{Int}
    jet::Vector{Int}
    dij::Vector{T}
    stale::Vector{Bool}
end

_Active{T}(n::Int) where {T} = _Active{T}(Vector{T}(undef, n), Vector{T}(undef, n),
    Vector{T}(undef, n), Vector{T}(undef, n), zeros(Int, n), zeros(Int, n),
    Vector{T}(undef, n), fill(false, n))

@inline function _dist2(a::_Active{T}, i::Int, j::Int) where {T}
    dϕ = abs(a.phi[i] - a.phi[j])
    dϕ = dϕ > T(π) ? T(2π) - dϕ : dϕ
    dy = a.rap[i] - a.rap[j]
    dy * dy + dϕ * dϕ
end

@inline function _dij(a::_Active, i::Int)
    j = a.nn[i]
    j == 0 ? a.nndist[i] * a.fac[i] : a.nndist[i] * min(a.fac[i], a.fac[j])
end

function _find_nn!(a::_Active{T}, i::Int, n::Int, R2::T) where {T}
    best, nn = R2, 0
    @inbounds for j in 1:n
        j == i && continue
        d = _dist2(a, i, j)
        if d < best
            best, nn = d, j
        end
    end
    a.nndist[i] = best
    a.nn[i] = nn
    nothing
end

function _load!(a::_Active, i::Int, pj::PseudoJet, k::Int, alg::AbstractJetAlgorithm, R2)
    a.rap[i] = pj.rap
    a.phi[i] = pj.phi
    a.fac[i] = momentum_factor(alg, pj.kt2)
    a.nndist[i] = R2
    a.nn[i] = 0
    a.jet[i] = k
    nothing
end

function _move!(a::_Active, to::Int, from::Int)
    a.rap[to] = a.rap[from]
    a.phi[to] = a.phi[from]
    a.fac[to] = a.fac[from]
    a.nndist[to] = a.nndist[from]
    a.nn[to] = a.nn[from]
    a.jet[to] = a.jet[from]
    a.stale[to] = a.stale[from]
    nothing
end

"""
    cluster(particles, alg; scheme=EScheme())

Cluster `particles` (any vector of four-momenta) with `alg`.  The element
type of the inputs is kept throughout, so `Float32` inputs are clustered in
`Float32` arithmetic.
"""
function cluster(particles::AbstractVector{<:AbstractFourMomentum{T}},
                 alg::AbstractJetAlgorithm; scheme::RecombinationScheme=EScheme()) where {T}
    cluster(FourVector{T}[FourVector{T}(q) for q in particles], alg, scheme)
end

function cluster(particles::Vector{FourVector{T}}, alg::A, scheme::S) where
        {T<:AbstractFloat,A<:AbstractJetAlgorithm,S<:RecombinationScheme}
    N = length(particles)
    R2 = T(radius(alg))^2
    jets = Vector{PseudoJet{T}}(undef, 0)
    sizehint!(jets, 2N)
    history = Vector{HistoryEntry{T}}(undef, 0)
    sizehint!(history, 2N)
    for (i, q) in enumerate(particles)
        push!(jets, PseudoJet(q, i))
        push!(history, HistoryEntry{T}(INEXISTENT, INEXISTENT, i, zero(T), zero(T)))
    end
    cs = ClusterSequence{T,A,S}(alg, scheme, R2, N, jets, history)
    N == 0 && return cs

    a = _Active{T}(N)
    for i in 1:N
        _load!(a, i, jets[i], i, alg, R2)
    end
    @inbounds for i in 1:N, j in (i + 1):N
        d = _dist2(a, i, j)
        if d < a.nndist[i]
            a.nndist[i], a.nn[i] = d, j
        end
        if d < a.nndist[j]
            a.nndist[j], a.nn[j] = d, i
        end
    end
    for i in 1:N
        a.dij[i] = _dij(a, i)
    end
    _run!(cs, a, N)
    cs
end

function _run!(cs::ClusterSequence{T}, a::_Active{T}, n::Int) where {T}
    R2 = cs.R2
    while n > 0
        ia, dmin = 1, a.dij[1]
        @inbounds for i in 2:n
            if a.dij[i] < dmin
                ia, dmin = i, a.dij[i]
            end
        end
        jb = a.nn[ia]
        merged = jb != 0
        if merged
            k = _merge_step!(cs, a.jet[ia], a.jet[jb], dmin / R2)
            removed = jb
        else
            _beam_step!(cs, a.jet[ia], dmin / R2)
            removed = ia
        end

        # Anything whose neighbour disappeared or changed must rescan.
        @inbounds for i in 1:n
            nni = a.nn[i]
            a.stale[i] = nni == removed || (merged && nni == ia)
        end
        merged && _load!(a, ia, cs.jets[k], k, cs.alg, R2)

        # Fill the hole with the last entry so the active set stays dense.
        last = n
        if removed != last
            _move!(a, removed, last)
            @inbounds for i in 1:(n - 1)
                a.nn[i] == last && (a.nn[i] = removed)
            end
            ia == last && (ia = removed)
        end
        n -= 1

        @inbounds for i in 1:n
            if a.stale[i] && !(merged && i == ia)
                _find_nn!(a, i, n, R2)
            end
        end
        if merged
            @inbounds for j in 1:n
                j == ia && continue
                d = _dist2(a, ia, j)
                if d < a.nndist[ia]
                    a.nndist[ia], a.nn[ia] = d, j
                end
                if d < a.nndist[j]
                    a.nndist[j], a.nn[j] = d, ia
                end
            end
        end
        @inbounds for i in 1:n
            a.dij[i] = _dij(a, i)
        end
    end
    cs
end

function _merge_step!(cs::ClusterSequence{T}, j1::Int, j2::Int, d::T) where {T}
    p = recombine(cs.scheme, cs.jets[j1].p, cs.jets[j2].p)
    h1, h2 = cs.jets[j1].hist, cs.jets[j2].hist
    hk = length(cs.history) + 1
    push!(cs.jets, PseudoJet(p, hk))
    push!(cs.history, HistoryEntry{T}(min(h1, h2), max(h1, h2), length(cs.jets), d,
                                      max(d, _last_max(cs))))
    length(cs.jets)
end

function _beam_step!(cs::ClusterSequence{T}, j::Int, d::T) where {T}
    push!(cs.history, HistoryEntry{T}(cs.jets[j].hist, BEAM, 0, d, max(d, _last_max(cs))))
    nothing
end

_last_max(cs::ClusterSequence{T}) where {T} =
    length(cs.history) > cs.ninitial ? cs.history[end].max_dij : zero(T)
