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
function evaluate_systematics(measure::F, x::AbstractVector{T}, w::AbstractVector{T}, systs;
                              quantities::AbstractVector{<:AbstractString}) where {F,T}
    # `measure::F` (here and below) makes Julia specialise on the function:
    # it does not for a function argument it only passes on, as to a
    # splatted call, and what `measure(...)` returns would have a type known
    # only at run time (`T.(...)` dispatched at run time).
    nom = T.(measure(apply(Nominal(), x, w)...))
    nq = length(nom)
    length(quantities) == nq || throw(ArgumentError("measure returned $nq values for $(length(quantities)) quantities"))
    ns = length(systs)
    up = fill(T(NaN), ns, nq)
    down = fill(T(NaN), ns, nq)
    names = _shift_all!(String[], up, down, measure, systs, x, w, nom)
    SystematicsTable{T}(String.(quantities), nom, names, up, down)
end

# A tuple of systematics of different types is walked by recursion, one call
# per element with its type known.  A `for` loop over it gives each element
# a type known only at run time, the `_shift!` calls are then dispatched at
# run time, and the `::Nothing` one, small enough to be inlined, is held in
# a system image without native code: every job would compile it.
_shift_all!(names, up, down, measure, ::Tuple{}, x, w, nom) = names
function _shift_all!(names, up, down, measure::F, systs::Tuple, x, w, nom) where {F}
    _shift_one!(names, up, down, measure, first(systs), x, w, nom)
    _shift_all!(names, up, down, measure, Base.tail(systs), x, w, nom)
end
function _shift_all!(names, up, down, measure::F, systs, x, w, nom) where {F}
    for s in systs
        _shift_one!(names, up, down, measure, s, x, w, nom)
    end
    names
end

function _shift_one!(names, up, down, measure::F, s, x, w, nom) where {F}
    push!(names, s.name)
    k = length(names)
    _shift!(up, k, measure, s.up, x, w, nom)
    _shift!(down, k, measure, s.down, x, w, nom)
end

_shift!(out, k, measure, ::Nothing, x, w, nom) = out
function _shift!(out::Matrix{T}, k, measure::F, v::AbstractVariation, x, w, nom) where {F,T}
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
