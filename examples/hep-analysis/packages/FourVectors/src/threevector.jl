"""
    ThreeVector{T<:AbstractFloat}(x, y, z)

Spatial vector, used mainly for boost velocities.
"""
struct ThreeVector{T<:AbstractFloat}
    x::T
    y::T
    z::T
end

ThreeVector(x::Real, y::Real, z::Real) = ThreeVector(promote(float(x), float(y), float(z))...)
ThreeVector{T}(v::ThreeVector) where {T<:AbstractFloat} = ThreeVector{T}(v.x, v.y, v.z)

Base.convert(::Type{ThreeVector{T}}, v::ThreeVector) where {T} = ThreeVector{T}(v)
Base.promote_rule(::Type{ThreeVector{T}}, ::Type{ThreeVector{S}}) where {T,S} =
    ThreeVector{promote_type(T, S)}
Base.eltype(::Type{ThreeVector{T}}) where {T} = T
Base.zero(::Type{ThreeVector{T}}) where {T} = ThreeVector{T}(zero(T), zero(T), zero(T))
Base.zero(v::ThreeVector) = zero(typeof(v))
Base.Tuple(v::ThreeVector) = (v.x, v.y, v.z)

Base.:+(a::ThreeVector, b::ThreeVector) = ThreeVector(a.x + b.x, a.y + b.y, a.z + b.z)
Base.:-(a::ThreeVector, b::ThreeVector) = ThreeVector(a.x - b.x, a.y - b.y, a.z - b.z)
Base.:-(a::ThreeVector) = ThreeVector(-a.x, -a.y, -a.z)
Base.:*(a::ThreeVector, s::Real) = ThreeVector(a.x * s, a.y * s, a.z * s)
Base.:*(s::Real, a::ThreeVector) = a * s
Base.:/(a::ThreeVector, s::Real) = ThreeVector(a.x / s, a.y / s, a.z / s)

Base.isapprox(a::ThreeVector, b::ThreeVector; kwargs...) =
    all(isapprox.(Tuple(a), Tuple(b); kwargs...))

dot3(a::ThreeVector, b::ThreeVector) = a.x * b.x + a.y * b.y + a.z * b.z
cross3(a::ThreeVector, b::ThreeVector) =
    ThreeVector(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
norm2(a::ThreeVector) = dot3(a, a)
norm3(a::ThreeVector) = sqrt(norm2(a))

function unit(a::ThreeVector{T}) where {T}
    n = norm3(a)
    # A null vector has no direction; returning it unchanged keeps callers
    # (angles between a particle and itself, boosts of particles at rest)
    # finite instead of spreading NaNs through an event.
    iszero(n) ? a : a / n
end

function Base.show(io::IO, v::ThreeVector)
    print(io, "ThreeVector(", v.x, ", ", v.y, ", ", v.z, ")")
end
