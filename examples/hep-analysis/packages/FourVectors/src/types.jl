"""
    AbstractFourMomentum{T<:AbstractFloat}

Interface: a subtype must implement `px`, `py`, `pz`, `energy`.  Everything
else has a generic definition; representations override what they can do
more cheaply or more accurately (e.g. `pt` of a `PtEtaPhiMVector`).
"""
abstract type AbstractFourMomentum{T<:AbstractFloat} end

"""
    MAXRAP

Rapidity assigned to objects along the beam axis, chosen (as in FastJet) to
be far outside any detector yet finite so distances stay well defined.
"""
const MAXRAP = 1.0e5

"""
    FourVector{T}(px, py, pz, E)

Cartesian four-momentum with metric (+,-,-,-).
"""
struct FourVector{T<:AbstractFloat} <: AbstractFourMomentum{T}
    px::T
    py::T
    pz::T
    E::T
end

FourVector(px::Real, py::Real, pz::Real, E::Real) =
    FourVector(promote(float(px), float(py), float(pz), float(E))...)

"""
    PtEtaPhiMVector{T}(pt, eta, phi, mass)

Four-momentum in detector coordinates.  `phi` is kept as given; accessors
that return an angle wrap it into (-π, π].
"""
struct PtEtaPhiMVector{T<:AbstractFloat} <: AbstractFourMomentum{T}
    pt::T
    eta::T
    phi::T
    mass::T
end

PtEtaPhiMVector(pt::Real, eta::Real, phi::Real, m::Real) =
    PtEtaPhiMVector(promote(float(pt), float(eta), float(phi), float(m))...)

px(v::FourVector) = v.px
py(v::FourVector) = v.py
pz(v::FourVector) = v.pz
energy(v::FourVector) = v.E

px(v::PtEtaPhiMVector) = v.pt * cos(v.phi)
py(v::PtEtaPhiMVector) = v.pt * sin(v.phi)
pz(v::PtEtaPhiMVector) = v.pt * sinh(v.eta)
energy(v::PtEtaPhiMVector) = sqrt(pmag2(v) + v.mass * abs(v.mass))

momentum3(v::AbstractFourMomentum) = ThreeVector(px(v), py(v), pz(v))

# Conversions go through the interface so any pair of representations and
# precisions can be converted without an N^2 table of methods.
FourVector{T}(v::AbstractFourMomentum) where {T<:AbstractFloat} =
    FourVector{T}(px(v), py(v), pz(v), energy(v))
FourVector(v::AbstractFourMomentum{T}) where {T} = FourVector{T}(v)

PtEtaPhiMVector{T}(v::AbstractFourMomentum) where {T<:AbstractFloat} =
    PtEtaPhiMVector{T}(pt(v), eta(v), phi(v), mass(v))
PtEtaPhiMVector{T}(v::PtEtaPhiMVector) where {T<:AbstractFloat} =
    PtEtaPhiMVector{T}(v.pt, v.eta, v.phi, v.mass)
PtEtaPhiMVector(v::AbstractFourMomentum{T}) where {T} = PtEtaPhiMVector{T}(v)

Base.convert(::Type{FourVector{T}}, v::AbstractFourMomentum) where {T} = FourVector{T}(v)
Base.convert(::Type{FourVector{T}}, v::FourVector{T}) where {T} = v
Base.convert(::Type{PtEtaPhiMVector{T}}, v::AbstractFourMomentum) where {T} =
    PtEtaPhiMVector{T}(v)
Base.convert(::Type{PtEtaPhiMVector{T}}, v::PtEtaPhiMVector{T}) where {T} = v

Base.promote_rule(::Type{FourVector{T}}, ::Type{FourVector{S}}) where {T,S} =
    FourVector{promote_type(T, S)}
Base.promote_rule(::Type{PtEtaPhiMVector{T}}, ::Type{PtEtaPhiMVector{S}}) where {T,S} =
    PtEtaPhiMVector{promote_type(T, S)}
# Mixed representations meet in Cartesian form, where sums are exact.
Base.promote_rule(::Type{FourVector{T}}, ::Type{PtEtaPhiMVector{S}}) where {T,S} =
    FourVector{promote_type(T, S)}

"""
    withprecision(T, v)

`v` with its components converted to `T`, keeping the representation.
"""
withprecision(::Type{T}, v::FourVector) where {T<:AbstractFloat} = FourVector{T}(v)
withprecision(::Type{T}, v::PtEtaPhiMVector) where {T<:AbstractFloat} = PtEtaPhiMVector{T}(v)
withprecision(::Type{T}, v::ThreeVector) where {T<:AbstractFloat} = ThreeVector{T}(v)

Base.eltype(::Type{<:AbstractFourMomentum{T}}) where {T} = T
Base.zero(::Type{FourVector{T}}) where {T} = FourVector{T}(zero(T), zero(T), zero(T), zero(T))
Base.zero(::Type{PtEtaPhiMVector{T}}) where {T} =
    PtEtaPhiMVector{T}(zero(T), zero(T), zero(T), zero(T))
Base.zero(v::AbstractFourMomentum) = zero(typeof(v))
Base.iszero(v::AbstractFourMomentum) =
    iszero(px(v)) && iszero(py(v)) && iszero(pz(v)) && iszero(energy(v))
Base.Tuple(v::AbstractFourMomentum) = (px(v), py(v), pz(v), energy(v))

Base.:(==)(a::FourVector, b::FourVector) = Tuple(a) == Tuple(b)
Base.:(==)(a::PtEtaPhiMVector, b::PtEtaPhiMVector) =
    (a.pt, a.eta, a.phi, a.mass) == (b.pt, b.eta, b.phi, b.mass)
Base.isapprox(a::AbstractFourMomentum, b::AbstractFourMomentum; kwargs...) =
    all(isapprox.(Tuple(a), Tuple(b); kwargs...))

Base.:+(a::AbstractFourMomentum, b::AbstractFourMomentum) =
    FourVector(px(a) + px(b), py(a) + py(b), pz(a) + pz(b), energy(a) + energy(b))
Base.:-(a::AbstractFourMomentum, b::AbstractFourMomentum) =
    FourVector(px(a) - px(b), py(a) - py(b), pz(a) - pz(b), energy(a) - energy(b))
Base.:-(a::FourVector) = FourVector(-a.px, -a.py, -a.pz, -a.E)
Base.:-(a::PtEtaPhiMVector) = -FourVector(a)
Base.:*(a::FourVector, s::Real) = FourVector(a.px * s, a.py * s, a.pz * s, a.E * s)
Base.:*(s::Real, a::AbstractFourMomentum) = a * s
Base.:/(a::FourVector, s::Real) = FourVector(a.px / s, a.py / s, a.pz / s, a.E / s)
# Scaling a cylindrical vector only rescales pt and mass, which is both cheaper
# and keeps eta/phi bit-identical; a negative factor would flip direction, so
# that case goes through Cartesian components.
function Base.:*(a::PtEtaPhiMVector, s::Real)
    s >= 0 || return FourVector(a) * s
    PtEtaPhiMVector(a.pt * s, a.eta, a.phi, a.mass * s)
end
Base.:/(a::PtEtaPhiMVector, s::Real) = a * inv(s)

function Base.show(io::IO, v::FourVector)
    print(io, "FourVector(px=", v.px, ", py=", v.py, ", pz=", v.pz, ", E=", v.E, ")")
end

function Base.show(io::IO, v::PtEtaPhiMVector)
    print(io, "PtEtaPhiMVector(pt=", v.pt, ", eta=", v.eta, ", phi=", v.phi,
          ", m=", v.mass, ")")
end
