"""
    JetSelector

Composable jet cuts.  Combinations are parametric types so a compound
selection compiles to straight-line code rather than a chain of dynamic
calls.
"""
abstract type JetSelector end

struct PtMin <: JetSelector
    ptmin::Float64
end
struct AbsEtaMax <: JetSelector
    etamax::Float64
end
struct AbsRapMax <: JetSelector
    rapmax::Float64
end
struct MassMin <: JetSelector
    mmin::Float64
end
struct NConstituentsMin <: JetSelector
    n::Int
end
struct AllOf{A<:JetSelector,B<:JetSelector} <: JetSelector
    a::A
    b::B
end
struct AnyOf{A<:JetSelector,B<:JetSelector} <: JetSelector
    a::A
    b::B
end
struct NotSel{A<:JetSelector} <: JetSelector
    a::A
end

Base.:&(a::JetSelector, b::JetSelector) = AllOf(a, b)
Base.:|(a::JetSelector, b::JetSelector) = AnyOf(a, b)
Base.:!(a::JetSelector) = NotSel(a)

passes(s::PtMin, j::AbstractFourMomentum{T}) where {T} = pt2(j) >= T(s.ptmin)^2
passes(s::AbsEtaMax, j::AbstractFourMomentum{T}) where {T} = abs(eta(j)) <= T(s.etamax)
passes(s::AbsRapMax, j::AbstractFourMomentum{T}) where {T} = abs(rapidity(j)) <= T(s.rapmax)
passes(s::MassMin, j::AbstractFourMomentum{T}) where {T} = mass(j) >= T(s.mmin)
passes(s::NConstituentsMin, j::Jet) = nconstituents(j) >= s.n
passes(s::AllOf, j) = passes(s.a, j) && passes(s.b, j)
passes(s::AnyOf, j) = passes(s.a, j) || passes(s.b, j)
passes(s::NotSel, j) = !passes(s.a, j)

(s::JetSelector)(j) = passes(s, j)

select_jets(jets::AbstractVector, s::JetSelector) = filter(j -> passes(s, j), jets)

Base.show(io::IO, s::PtMin) = print(io, "pt >= ", s.ptmin)
Base.show(io::IO, s::AbsEtaMax) = print(io, "|eta| <= ", s.etamax)
Base.show(io::IO, s::AbsRapMax) = print(io, "|y| <= ", s.rapmax)
Base.show(io::IO, s::MassMin) = print(io, "m >= ", s.mmin)
Base.show(io::IO, s::NConstituentsMin) = print(io, "nconst >= ", s.n)
Base.show(io::IO, s::AllOf) = print(io, "(", s.a, " && ", s.b, ")")
Base.show(io::IO, s::AnyOf) = print(io, "(", s.a, " || ", s.b, ")")
Base.show(io::IO, s::NotSel) = print(io, "!(", s.a, ")")
