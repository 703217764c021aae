# A toy generator, not physics: it only has to produce events that look
# enough like LHC dijet events (falling jet spectrum, collimated sprays,
# soft underlying event, an optional resonance) to exercise the analysis.
#
# All random numbers are drawn in Float64 and only the final kinematics are
# built in the requested precision, so the same seed yields the same
# events in Float32 and Float64 up to rounding.

"""
    GeneratorConfig(; kwargs...)

Knobs of the pseudo-event generator; energies in GeV.
"""
Base.@kwdef struct GeneratorConfig
    ptmin::Float64 = 40.0
    ptmax::Float64 = 1500.0
    sample_power::Float64 = 3.0      # spectrum actually sampled (flat-ish)
    target_power::Float64 = 5.0      # spectrum the event weights reproduce
    parton_etamax::Float64 = 2.8
    resonance_fraction::Float64 = 0.3
    resonance_mass::Float64 = 400.0
    resonance_width::Float64 = 30.0
    resonance_ptmean::Float64 = 40.0
    resonance_ymax::Float64 = 1.2
    isr_probability::Float64 = 0.35
    ue_mean::Float64 = 30.0
    ue_meanpt::Float64 = 0.6
    pileup::Int = 0
    etamax::Float64 = 4.5
    particle_ptmin::Float64 = 0.05
end

const PION_MASS = 0.13957
const KAON_MASS = 0.497611
const PROTON_MASS = 0.938272

"""
    poisson(rng, λ)

Knuth's multiplication method: exact and plenty fast for the small means
used here, and it draws a predictable number of uniforms per call.
"""
function poisson(rng::AbstractRNG, λ::Float64)
    λ <= 0 && return 0
    # Split large means so exp(-λ) never underflows.
    λ > 40 && return poisson(rng, λ / 2) + poisson(rng, λ / 2)
    L = exp(-λ)
    k = 0
    prob = rand(rng)
    while prob > L
        k += 1
        prob *= rand(rng)
    end
    k
end

uniform(rng::AbstractRNG, lo::Real, hi::Real) = Float64(lo) + (Float64(hi) - Float64(lo)) * rand(rng)

"""
    sample_species(rng)

A rough hadron mix: (pdgid, charge, mass).
"""
function sample_species(rng::AbstractRNG)
    r = rand(rng)
    if r < 0.62
        c = rand(rng) < 0.5 ? 1 : -1
        return (Int32(211 * c), Int8(c), PION_MASS)
    elseif r < 0.90
        return (Int32(22), Int8(0), 0.0)
    elseif r < 0.96
        return (Int32(130), Int8(0), KAON_MASS)
    else
        c = rand(rng) < 0.5 ? 1 : -1
        return (Int32(2212 * c), Int8(c), PROTON_MASS)
    end
end

function _push_particle!(out::Vector{Particle{T}}, cfg::GeneratorConfig, ptv::Float64,
                         etav::Float64, phiv::Float64, species) where {T}
    (ptv < cfg.particle_ptmin || abs(etav) > cfg.etamax) && return out
    id, charge, m = species
    p = fromptetaphim(T(ptv), T(etav), T(wrapphi(phiv)), T(m))
    push!(out, Particle{T}(p, id, charge))
end

"""
    fragment!(out, rng, cfg, pt, eta, phi)

Turn a parton into a collimated spray.  Multiplicity grows logarithmically
with pt and soft fragments spread wider, which is what gives jets a
realistic width and makes the choice of R matter.
"""
function fragment!(out::Vector{Particle{T}}, rng::AbstractRNG, cfg::GeneratorConfig,
                   ptv::Float64, etav::Float64, phiv::Float64) where {T}
    n = max(1, poisson(rng, 2.0 + 2.5 * log(max(ptv, 1.0))))
    z = [randexp(rng)^1.5 for _ in 1:n]
    z ./= sum(z)
    for zi in z
        pti = zi * ptv
        σ = 0.03 + 0.25 / sqrt(1.0 + pti)
        _push_particle!(out, cfg, pti, etav + σ * randn(rng), phiv + σ * randn(rng),
                        sample_species(rng))
    end
    out
end

function underlying_event!(out::Vector{Particle{T}}, rng::AbstractRNG,
                           cfg::GeneratorConfig) where {T}
    n = poisson(rng, cfg.ue_mean * (1 + cfg.pileup / 2))
    for _ in 1:n
        _push_particle!(out, cfg, cfg.ue_meanpt * randexp(rng), uniform(rng, -cfg.etamax, cfg.etamax),
                        uniform(rng, -π, π), sample_species(rng))
    end
    out
end

"""
    sample_pt(rng, ptmin, ptmax, n)

Inverse-CDF sample of a power law pt^-n truncated to [ptmin, ptmax].
"""
function sample_pt(rng::AbstractRNG, ptmin::Float64, ptmax::Float64, n::Float64)
    a = 1 - n
    u = rand(rng)
    (ptmin^a + u * (ptmax^a - ptmin^a))^(1 / a)
end

function qcd_partons!(partons::Vector{NTuple{3,Float64}}, rng::AbstractRNG, cfg::GeneratorConfig)
    pt1 = sample_pt(rng, cfg.ptmin, cfg.ptmax, cfg.sample_power)
    pt2 = pt1 * uniform(rng, 0.75, 1.0)
    ϕ1 = uniform(rng, -π, π)
    push!(partons, (pt1, uniform(rng, -cfg.parton_etamax, cfg.parton_etamax), ϕ1))
    push!(partons, (pt2, uniform(rng, -cfg.parton_etamax, cfg.parton_etamax),
                    ϕ1 + π + 0.15 * randn(rng)))
    # Sampling a flatter spectrum and reweighting populates the high-pt tail
    # that a dijet search cares about without generating millions of events.
    (pt1 / cfg.ptmin)^(cfg.sample_power - cfg.target_power)
end

function resonance_partons!(partons::Vector{NTuple{3,Float64}}, rng::AbstractRNG,
                            cfg::GeneratorConfig)
    M0, Γ = cfg.resonance_mass, cfg.resonance_width
    m = M0 + Γ / 2 * tan(π * (rand(rng) - 0.5))
    m = clamp(m, M0 / 2, 2M0)
    res = fromptyphim(cfg.resonance_ptmean * randexp(rng),
                      uniform(rng, -cfg.resonance_ymax, cfg.resonance_ymax),
                      uniform(rng, -π, π), m)
    cosθ = uniform(rng, -1.0, 1.0)
    ϕ = uniform(rng, -π, π)
    sinθ = sqrt(1 - cosθ^2)
    half = m / 2
    d1 = FourVector(half * sinθ * cos(ϕ), half * sinθ * sin(ϕ), half * cosθ, half)
    d2 = FourVector(-d1.px, -d1.py, -d1.pz, half)
    β = boostvector(res)
    for d in (boost(d1, β), boost(d2, β))
        push!(partons, (pt(d), eta(d), phi(d)))
    end
    # Fixed weight comparable to a QCD event near the resonance mass, so the
    # peak is visible on top of the weighted background.
    0.02
end

"""
    generate_event(rng, T, cfg, number)

One event in precision `T`.
"""
function generate_event(rng::AbstractRNG, ::Type{T}, cfg::GeneratorConfig,
                        number::Int) where {T<:AbstractFloat}
    hard = NTuple{3,Float64}[]
    isres = rand(rng) < cfg.resonance_fraction
    w = isres ? resonance_partons!(hard, rng, cfg) : qcd_partons!(hard, rng, cfg)
    if rand(rng) < cfg.isr_probability
        push!(hard, (15.0 + 20.0 * randexp(rng), uniform(rng, -4.0, 4.0), uniform(rng, -π, π)))
    end
    particles = Particle{T}[]
    partons = FourVector{T}[]
    for (ptv, etav, phiv) in hard
        abs(etav) > cfg.etamax && continue
        push!(partons, fromptetaphim(T(ptv), T(etav), T(wrapphi(phiv)), zero(T)))
        fragment!(particles, rng, cfg, ptv, etav, phiv)
    end
    underlying_event!(particles, rng, cfg)
    Event{T}(number, isres ? :resonance : :qcd, T(w), particles, partons)
end

"""
    generate_events(T, n; seed, cfg=GeneratorConfig())

`n` events from a fresh `MersenneTwister(seed)`: the same arguments always
give the same events.
"""
function generate_events(::Type{T}, n::Integer; seed::Integer,
                         cfg::GeneratorConfig=GeneratorConfig()) where {T<:AbstractFloat}
    rng = MersenneTwister(seed)
    Event{T}[generate_event(rng, T, cfg, i) for i in 1:n]
end
