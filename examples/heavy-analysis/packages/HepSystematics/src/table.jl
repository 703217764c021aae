"""
    SystematicsTable{T}

Shifts of each measured quantity under each source: `up[s, q]` and
`down[s, q]` are (varied - nominal); a one-sided source has NaN `down`.
"""
struct SystematicsTable{T<:AbstractFloat}
    quantities::Vector{String}
    nominal::Vector{T}
    sources::Vector{String}
    up::Matrix{T}
    down::Matrix{T}
end

nsources(t::SystematicsTable) = length(t.sources)

"""
    evaluate_systematics(measure, x, w, systematics; quantities)

Run `measure(x, w)::AbstractVector` on the nominal sample and on every
variation of every systematic and tabulate the shifts.
"""
function evaluate_systematics(measure, x::AbstractVector{T}, w::AbstractVector{T}, systs;
                              quantities::AbstractVector{<:AbstractString}) where {T}
    nom = T.(measure(apply(Nominal(), x, w)...))
    nq = length(nom)
    length(quantities) == nq || throw(ArgumentError("measure returned $nq values for $(length(quantities)) quantities"))
    ns = length(systs)
    up = fill(T(NaN), ns, nq)
    down = fill(T(NaN), ns, nq)
    names = String[]
    for (k, s) in enumerate(systs)
        push!(names, s.name)
        _shift!(up, k, measure, s.up, x, w, nom)
        _shift!(down, k, measure, s.down, x, w, nom)
    end
    SystematicsTable{T}(String.(quantities), nom, names, up, down)
end

_shift!(out, k, measure, ::Nothing, x, w, nom) = out
function _shift!(out::Matrix{T}, k, measure, v::AbstractVariation, x, w, nom) where {T}
    r = measure(apply(v, x, w)...)
    for q in eachindex(nom)
        out[k, q] = T(r[q]) - nom[q]
    end
    out
end

"""
    symmetrized(t)

Per source and quantity, (|up| + |down|)/2 with the sign of `up` (a
one-sided source counts fully).
"""
function symmetrized(t::SystematicsTable{T}) where {T}
    out = similar(t.up)
    for i in eachindex(t.up)
        u, d = t.up[i], t.down[i]
        out[i] = isnan(d) ? u : copysign((abs(u) + abs(d)) / 2, u)
    end
    out
end

"""
    total_up(t), total_down(t), total_symmetric(t)

Quadrature sums over sources of the positive shifts, the negative shifts
(each source contributes its larger shift in that direction) and of the
symmetrised shifts.
"""
function total_up(t::SystematicsTable{T}) where {T}
    out = zeros(T, length(t.nominal))
    for q in eachindex(out), s in 1:nsources(t)
        u, d = t.up[s, q], t.down[s, q]
        m = max(zero(T), isnan(u) ? zero(T) : u, isnan(d) ? zero(T) : d)
        out[q] += m * m
    end
    sqrt.(out)
end

function total_down(t::SystematicsTable{T}) where {T}
    out = zeros(T, length(t.nominal))
    for q in eachindex(out), s in 1:nsources(t)
        u, d = t.up[s, q], t.down[s, q]
        m = min(zero(T), isnan(u) ? zero(T) : u, isnan(d) ? zero(T) : d)
        out[q] += m * m
    end
    sqrt.(out)
end

function total_symmetric(t::SystematicsTable{T}) where {T}
    sym = symmetrized(t)
    T[sqrt(sum(abs2, view(sym, :, q))) for q in eachindex(t.nominal)]
end

"""
    syst_covariance(t)

Covariance between quantities implied by the sources, each fully
correlated across quantities: C = Σₛ δₛ δₛᵀ with symmetrised shifts.
"""
function syst_covariance(t::SystematicsTable{T}) where {T}
    sym = symmetrized(t)
    nq = length(t.nominal)
    C = zeros(T, nq, nq)
    for s in 1:nsources(t), j in 1:nq, i in 1:nq
        C[i, j] += sym[s, i] * sym[s, j]
    end
    C
end

"""
    relative_shifts(t)

Symmetrised shifts divided by the nominal values.
"""
relative_shifts(t::SystematicsTable) = symmetrized(t) ./ reshape(t.nominal, 1, :)

"""
    total_covariance(stat, t)

Statistical plus systematic covariance.
"""
total_covariance(stat::AbstractMatrix, t::SystematicsTable) = stat .+ syst_covariance(t)
