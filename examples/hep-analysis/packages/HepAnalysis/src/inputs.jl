"""
    JetInput

What the jets of an analysis are built from.  A type parameter of the
configuration, so particle-level and calorimeter-level variants each get
their own compiled event loop.
"""
abstract type JetInput end

"""
    ParticleInput()

Cluster the final-state particles directly ("truth" or particle-flow jets).
"""
struct ParticleInput <: JetInput end

"""
    TowerInput(; deta=0.1, nphi=64, etamax=4.5, threshold=0.5)

Cluster massless calorimeter towers on a regular (η, φ) grid.  Towers sum
energy regardless of charge and lose all sub-tower angular information,
which is exactly the resolution effect the comparison with particle jets
is meant to show.
"""
struct TowerInput <: JetInput
    deta::Float64
    nphi::Int
    etamax::Float64
    threshold::Float64   # minimum tower Et, a stand-in for noise suppression
end

TowerInput(; deta::Real=0.1, nphi::Integer=64, etamax::Real=4.5, threshold::Real=0.5) =
    TowerInput(Float64(deta), Int(nphi), Float64(etamax), Float64(threshold))

jet_inputs(::ParticleInput, ev::Event) = ev.particles
jet_inputs(t::TowerInput, ev::Event) = towers(t, ev.particles)

input_charges(::ParticleInput, ev::Event, inputs) = Int8[q.charge for q in ev.particles]
input_charges(::TowerInput, ev::Event, inputs) = zeros(Int8, length(inputs))

Base.show(io::IO, ::ParticleInput) = print(io, "particles")
Base.show(io::IO, t::TowerInput) = print(io, "towers(", t.deta, "x2pi/", t.nphi, ")")

"""
    towers(t, particles)

Deposit particle energies into the tower grid and return the towers above
threshold as `PtEtaPhiMVector`s, in grid order so output is reproducible.
"""
function towers(t::TowerInput, particles::AbstractVector{<:AbstractFourMomentum{T}}) where {T}
    neta = round(Int, 2t.etamax / t.deta)
    grid = zeros(T, neta, t.nphi)
    dphi = 2π / t.nphi
    for q in particles
        η = eta(q)
        abs(η) < t.etamax || continue
        i = clamp(floor(Int, (η + t.etamax) / t.deta) + 1, 1, neta)
        j = clamp(floor(Int, phi02pi(q) / dphi) + 1, 1, t.nphi)
        grid[i, j] += energy(q)
    end
    out = PtEtaPhiMVector{T}[]
    for j in 1:t.nphi, i in 1:neta
        E = grid[i, j]
        iszero(E) && continue
        ηc = T(-t.etamax + (i - 0.5) * t.deta)
        et = E / cosh(ηc)
        et >= t.threshold || continue
        push!(out, PtEtaPhiMVector{T}(et, ηc, wrapphi(T((j - 0.5) * dphi)), zero(T)))
    end
    out
end
