"""
    Particle{T}

A final-state particle: momentum plus the PDG id and charge, which the
analysis uses for charged-only observables.  Particles are four-momenta,
so they can be handed to the clustering directly.
"""
struct Particle{T<:AbstractFloat} <: AbstractFourMomentum{T}
    p::FourVector{T}
    pdgid::Int32
    charge::Int8
end

FourVectors.px(q::Particle) = q.p.px
FourVectors.py(q::Particle) = q.p.py
FourVectors.pz(q::Particle) = q.p.pz
FourVectors.energy(q::Particle) = q.p.E

Particle{S}(q::Particle) where {S<:AbstractFloat} = Particle{S}(FourVector{S}(q.p), q.pdgid, q.charge)
ischarged(q::Particle) = !iszero(q.charge)

"""
    Event{T}

One generated collision.  `partons` keeps the generator-level hard partons
so jets can be matched to what produced them.
"""
struct Event{T<:AbstractFloat}
    number::Int
    process::Symbol          # :qcd or :resonance
    weight::T
    particles::Vector{Particle{T}}
    partons::Vector{FourVector{T}}
end

Event{S}(ev::Event) where {S<:AbstractFloat} =
    Event{S}(ev.number, ev.process, S(ev.weight), Particle{S}.(ev.particles),
             FourVector{S}.(ev.partons))
Base.convert(::Type{Event{S}}, ev::Event) where {S} = Event{S}(ev)

nparticles(ev::Event) = length(ev.particles)
charged(ev::Event) = filter(ischarged, ev.particles)

function Base.show(io::IO, ev::Event{T}) where {T}
    print(io, "Event{", T, "}(#", ev.number, ", ", ev.process, ", ", nparticles(ev),
          " particles, ", length(ev.partons), " partons)")
end
