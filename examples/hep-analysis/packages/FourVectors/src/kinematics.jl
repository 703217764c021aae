# Observables.  Generic definitions use only the four interface accessors;
# the cylindrical representation overrides what it stores directly, which is
# both faster and exact (no round trip through sinh/asinh).

pt2(v::AbstractFourMomentum) = px(v)^2 + py(v)^2
pt(v::AbstractFourMomentum) = sqrt(pt2(v))
pt(v::PtEtaPhiMVector) = v.pt
pt2(v::PtEtaPhiMVector) = v.pt^2

pmag2(v::AbstractFourMomentum) = pt2(v) + pz(v)^2
pmag(v::AbstractFourMomentum) = sqrt(pmag2(v))
pmag(v::PtEtaPhiMVector) = v.pt * cosh(v.eta)
pmag2(v::PtEtaPhiMVector) = pmag(v)^2

"""
    mass2(v)

Invariant mass squared.  May be slightly negative for massless objects built
from rounded components; callers that need a real mass use `mass`.
"""
mass2(v::AbstractFourMomentum) = energy(v)^2 - pmag2(v)
mass2(v::PtEtaPhiMVector) = v.mass * abs(v.mass)

"""
    mass(v)

Invariant mass, following the FastJet convention of returning `-sqrt(-m²)`
for space-like vectors so rounding noise stays visible instead of raising.
"""
function mass(v::AbstractFourMomentum)
    m2 = mass2(v)
    m2 < 0 ? -sqrt(-m2) : sqrt(m2)
end
mass(v::PtEtaPhiMVector) = v.mass

mt2(v::AbstractFourMomentum) = energy(v)^2 - pz(v)^2
mt2(v::PtEtaPhiMVector) = v.pt^2 + mass2(v)
function mt(v::AbstractFourMomentum)
    m2 = mt2(v)
    m2 < 0 ? -sqrt(-m2) : sqrt(m2)
end

"""
    et(v)

Transverse energy E·sin(θ).
"""
function et(v::AbstractFourMomentum{T}) where {T}
    pp = pmag(v)
    iszero(pp) ? zero(T) : energy(v) * pt(v) / pp
end

"""
    phi(v)

Azimuth in (-π, π].
"""
phi(v::AbstractFourMomentum) = atan(py(v), px(v))
phi(v::PtEtaPhiMVector) = wrapphi(v.phi)

"""
    phi02pi(v)

Azimuth in [0, 2π), the range used by the clustering code where a single
branch cut is easier to reason about than a symmetric one.
"""
function phi02pi(v::AbstractFourMomentum{T}) where {T}
    ϕ = phi(v)
    ϕ < 0 ? ϕ + T(2π) : ϕ
end

wrapphi(ϕ::T) where {T<:AbstractFloat} = ϕ - T(2π) * round(ϕ / T(2π))

theta(v::AbstractFourMomentum) = atan(pt(v), pz(v))
theta(v::PtEtaPhiMVector{T}) where {T} = 2 * atan(exp(-v.eta))
costheta(v::AbstractFourMomentum{T}) where {T} = (pp = pmag(v); iszero(pp) ? one(T) : pz(v) / pp)

"""
    eta(v)

Pseudorapidity.  Objects exactly along the beam get `±MAXRAP`.
"""
function eta(v::AbstractFourMomentum{T}) where {T}
    ptv = pt(v)
    pzv = pz(v)
    if iszero(ptv)
        return iszero(pzv) ? zero(T) : copysign(T(MAXRAP), pzv) + pzv
    end
    asinh(pzv / ptv)
end
eta(v::PtEtaPhiMVector) = v.eta

"""
    rapidity(v)

True rapidity ½·ln((E+pz)/(E-pz)); used by clustering because it is additive
under longitudinal boosts, which pseudorapidity is only for massless objects.
"""
function rapidity(v::AbstractFourMomentum{T}) where {T}
    E = energy(v)
    pzv = pz(v)
    if E == abs(pzv) && iszero(pt2(v))
        # Shift by pz so several beam-collinear particles remain distinct.
        return copysign(T(MAXRAP), pzv) + pzv
    end
    # Computed via mT² to stay accurate at large |y|, where E-|pz| cancels.
    m2t = mt2(v)
    m2t > 0 || return copysign(T(MAXRAP), pzv) + pzv
    y = log((E + abs(pzv))^2 / m2t) / 2
    pzv >= 0 ? y : -y
end
function rapidity(v::PtEtaPhiMVector{T}) where {T}
    m2t = mt2(v)
    iszero(m2t) && return rapidity(FourVector(v))
    # sinh(y)·mT = pz, so y = asinh(pz/mT) avoids building E entirely.
    asinh(pz(v) / sqrt(m2t))
end

lorentzbeta(v::AbstractFourMomentum{T}) where {T} = (E = energy(v); iszero(E) ? zero(T) : pmag(v) / E)
function lorentzgamma(v::AbstractFourMomentum{T}) where {T}
    m = mass(v)
    m > 0 ? energy(v) / m : T(Inf)
end

"""
    dot4(a, b)

Minkowski product with metric (+,-,-,-).
"""
dot4(a::AbstractFourMomentum, b::AbstractFourMomentum) =
    energy(a) * energy(b) - px(a) * px(b) - py(a) * py(b) - pz(a) * pz(b)

deltaphi(a::AbstractFourMomentum, b::AbstractFourMomentum) = wrapphi(phi(a) - phi(b))
deltaeta(a::AbstractFourMomentum, b::AbstractFourMomentum) = eta(a) - eta(b)
deltarapidity(a::AbstractFourMomentum, b::AbstractFourMomentum) = rapidity(a) - rapidity(b)

"""
    deltaR2(a, b)

Squared angular distance in (η, φ), the usual experimental definition.
See `deltaRy2` for the rapidity-based distance used by clustering.
"""
deltaR2(a::AbstractFourMomentum, b::AbstractFourMomentum) = deltaeta(a, b)^2 + deltaphi(a, b)^2
deltaR(a::AbstractFourMomentum, b::AbstractFourMomentum) = sqrt(deltaR2(a, b))
deltaRy2(a::AbstractFourMomentum, b::AbstractFourMomentum) =
    deltarapidity(a, b)^2 + deltaphi(a, b)^2
deltaRy(a::AbstractFourMomentum, b::AbstractFourMomentum) = sqrt(deltaRy2(a, b))

"""
    cosangle(a, b)

Cosine of the opening angle between the momenta; 1 if either is null.
"""
function cosangle(a::AbstractFourMomentum{T}, b::AbstractFourMomentum{S}) where {T,S}
    n = pmag(a) * pmag(b)
    iszero(n) && return one(promote_type(T, S))
    clamp(dot3(momentum3(a), momentum3(b)) / n, -one(n), one(n))
end

"""
    invariant_mass(vs...)
    invariant_mass(collection)

Mass of the sum, summed in Cartesian form whatever the inputs are.
"""
invariant_mass(a::AbstractFourMomentum, rest::AbstractFourMomentum...) =
    mass(foldl(+, rest; init=FourVector(a)))
function invariant_mass(vs::AbstractVector{<:AbstractFourMomentum{T}}) where {T}
    s = zero(FourVector{T})
    for v in vs
        s += v
    end
    mass(s)
end

"""
    fromptetaphim(pt, eta, phi, m)

Cartesian vector from detector coordinates.
"""
function fromptetaphim(ptv::T, etav::T, phiv::T, m::T) where {T<:AbstractFloat}
    s, c = sincos(phiv)
    pzv = ptv * sinh(etav)
    FourVector{T}(ptv * c, ptv * s, pzv, sqrt(ptv^2 + pzv^2 + m * abs(m)))
end
fromptetaphim(ptv::Real, etav::Real, phiv::Real, m::Real) =
    fromptetaphim(promote(float(ptv), float(etav), float(phiv), float(m))...)

"""
    fromptetaphie(pt, eta, phi, E)

Cartesian vector from detector coordinates and energy (calorimeter style).
"""
function fromptetaphie(ptv::T, etav::T, phiv::T, E::T) where {T<:AbstractFloat}
    s, c = sincos(phiv)
    FourVector{T}(ptv * c, ptv * s, ptv * sinh(etav), E)
end
fromptetaphie(ptv::Real, etav::Real, phiv::Real, E::Real) =
    fromptetaphie(promote(float(ptv), float(etav), float(phiv), float(E))...)

"""
    fromptyphim(pt, y, phi, m)

Cartesian vector from transverse momentum, true rapidity, azimuth and mass,
which is how generators usually sample resonances.
"""
function fromptyphim(ptv::T, y::T, phiv::T, m::T) where {T<:AbstractFloat}
    s, c = sincos(phiv)
    mtv = sqrt(ptv^2 + m * abs(m))
    FourVector{T}(ptv * c, ptv * s, mtv * sinh(y), mtv * cosh(y))
end
fromptyphim(ptv::Real, y::Real, phiv::Real, m::Real) =
    fromptyphim(promote(float(ptv), float(y), float(phiv), float(m))...)
