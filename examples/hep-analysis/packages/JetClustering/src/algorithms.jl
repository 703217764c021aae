"""
    AbstractJetAlgorithm

A member of the generalised kt family: d_ij = min(kt_i^2p, kt_j^2p) ΔR²/R²,
d_iB = kt_i^2p.  Each concrete type fixes p, which lets the compiler
specialise the inner distance loop instead of calling `^` on every pair.
"""
abstract type AbstractJetAlgorithm end

struct AntiKt <: AbstractJetAlgorithm
    R::Float64
end
struct Kt <: AbstractJetAlgorithm
    R::Float64
end
struct CambridgeAachen <: AbstractJetAlgorithm
    R::Float64
end
"""
    GenKt(p, R)

Arbitrary exponent; p = 1, 0, -1 reproduce kt, C/A and anti-kt (slower,
since the exponent is only known at run time).
"""
struct GenKt <: AbstractJetAlgorithm
    p::Float64
    R::Float64
end

for A in (:AntiKt, :Kt, :CambridgeAachen)
    @eval $A(; R::Real=0.4) = $A(Float64(R))
end

radius(a::AbstractJetAlgorithm) = a.R

"""
    momentum_factor(alg, kt2)

The kt^2p factor entering d_ij and d_iB.
"""
momentum_factor(::AntiKt, kt2::T) where {T} = iszero(kt2) ? T(Inf) : inv(kt2)
momentum_factor(::Kt, kt2::T) where {T} = kt2
momentum_factor(::CambridgeAachen, kt2::T) where {T} = one(T)
momentum_factor(a::GenKt, kt2::T) where {T} =
    iszero(kt2) && a.p < 0 ? T(Inf) : kt2^T(a.p)

Base.show(io::IO, a::AntiKt) = print(io, "anti-kt(R=", a.R, ")")
Base.show(io::IO, a::Kt) = print(io, "kt(R=", a.R, ")")
Base.show(io::IO, a::CambridgeAachen) = print(io, "C/A(R=", a.R, ")")
Base.show(io::IO, a::GenKt) = print(io, "genkt(p=", a.p, ", R=", a.R, ")")

"""
    RecombinationScheme

How two pseudojets are merged.  Schemes other than `EScheme` return
massless objects by construction.
"""
abstract type RecombinationScheme end
struct EScheme <: RecombinationScheme end
struct PtScheme <: RecombinationScheme end
struct Pt2Scheme <: RecombinationScheme end
"""
    WTAScheme()

Winner-takes-all: summed pt along the direction of the harder input, which
makes the jet axis insensitive to soft recoil.
"""
struct WTAScheme <: RecombinationScheme end

recombine(::EScheme, a::FourVector{T}, b::FourVector{T}) where {T} = a + b

function recombine(::PtScheme, a::FourVector{T}, b::FourVector{T}) where {T}
    _weighted_recombine(a, b, pt(a), pt(b))
end

function recombine(::Pt2Scheme, a::FourVector{T}, b::FourVector{T}) where {T}
    _weighted_recombine(a, b, pt2(a), pt2(b))
end

function recombine(::WTAScheme, a::FourVector{T}, b::FourVector{T}) where {T}
    pa, pb = pt(a), pt(b)
    hard = pa >= pb ? a : b
    FourVector{T}(fromptyphim(pa + pb, rapidity(hard), phi(hard), zero(T)))
end

function _weighted_recombine(a::FourVector{T}, b::FourVector{T}, wa::T, wb::T) where {T}
    w = wa + wb
    iszero(w) && return a + b
    ya, yb = rapidity(a), rapidity(b)
    ϕa, ϕb = phi(a), phi(b)
    # Average azimuths on the same branch, otherwise jets straddling ±π would
    # end up on the opposite side of the detector.
    if ϕb - ϕa > T(π)
        ϕb -= T(2π)
    elseif ϕa - ϕb > T(π)
        ϕb += T(2π)
    end
    y = (wa * ya + wb * yb) / w
    ϕ = (wa * ϕa + wb * ϕb) / w
    fromptyphim(pt(a) + pt(b), y, ϕ, zero(T))
end

Base.show(io::IO, ::EScheme) = print(io, "E-scheme")
Base.show(io::IO, ::PtScheme) = print(io, "pt-scheme")
Base.show(io::IO, ::Pt2Scheme) = print(io, "pt2-scheme")
Base.show(io::IO, ::WTAScheme) = print(io, "WTA")
