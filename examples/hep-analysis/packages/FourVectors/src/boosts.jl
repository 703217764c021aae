"""
    boostvector(v)

Velocity β = p/E of the frame in which `v` is at rest.
"""
function boostvector(v::AbstractFourMomentum{T}) where {T}
    E = energy(v)
    iszero(E) && return zero(ThreeVector{T})
    momentum3(v) / E
end

"""
    boost(v, β::ThreeVector)

Active Lorentz boost of `v` by velocity `β` (|β| < 1).  The result is always
Cartesian: a boost mixes every component, so there is nothing to gain from
keeping a cylindrical representation.
"""
function boost(v::AbstractFourMomentum{T}, β::ThreeVector) where {T}
    b2 = norm2(β)
    iszero(b2) && return FourVector(v)
    b2 < 1 || throw(DomainError(b2, "boost velocity must satisfy |β| < 1"))
    γ = 1 / sqrt(1 - b2)
    bp = dot3(β, momentum3(v))
    E = energy(v)
    # (γ-1)/β² written as γ²/(γ+1) avoids cancellation for small boosts.
    g2 = γ^2 / (γ + 1)
    k = g2 * bp + γ * E
    FourVector(px(v) + k * β.x, py(v) + k * β.y, pz(v) + k * β.z, γ * (E + bp))
end

"""
    boostz(v, βz)

Longitudinal boost; keeps pt and azimuth exactly, shifts rapidity.
"""
function boostz(v::AbstractFourMomentum{T}, βz::Real) where {T}
    abs(βz) < 1 || throw(DomainError(βz, "boost velocity must satisfy |β| < 1"))
    γ = 1 / sqrt(1 - βz^2)
    E, pzv = energy(v), pz(v)
    FourVector(px(v), py(v), γ * (pzv + βz * E), γ * (E + βz * pzv))
end

"""
    torestframe(v, ref)

`v` seen from the rest frame of `ref`.
"""
torestframe(v::AbstractFourMomentum, ref::AbstractFourMomentum) = boost(v, -boostvector(ref))

"""
    costheta_star(a, b)

Cosine of the angle between `a`, in the rest frame of `a + b`, and the
direction of flight of `a + b`: the decay angle used in dijet resonance
searches to separate s-channel production from t-channel QCD.
"""
function costheta_star(a::AbstractFourMomentum{T}, b::AbstractFourMomentum) where {T}
    sys = a + b
    astar = torestframe(a, sys)
    axis = momentum3(sys)
    iszero(norm2(axis)) && return costheta(astar)
    clamp(dot3(unit(momentum3(astar)), unit(axis)), -one(T), one(T))
end
