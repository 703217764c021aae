# Event-level observables.  Each takes any vector of four-momenta so the
# same code serves particles, jets and partons in either precision.

"""
    scalar_ht(objs)

Scalar sum of transverse momenta.
"""
function scalar_ht(objs::AbstractVector{<:AbstractFourMomentum{T}}) where {T}
    s = zero(T)
    for o in objs
        s += pt(o)
    end
    s
end

"""
    missing_pt(objs)

Magnitude of the negative vector sum of transverse momenta.
"""
function missing_pt(objs::AbstractVector{<:AbstractFourMomentum{T}}) where {T}
    sx = zero(T)
    sy = zero(T)
    for o in objs
        sx -= px(o)
        sy -= py(o)
    end
    sqrt(sx^2 + sy^2)
end

"""
    transverse_sphericity(objs)

2λ₂/(λ₁+λ₂) of the linearised transverse momentum tensor: 0 for pencil-like
(back-to-back dijet) events, 1 for isotropic ones.
"""
function transverse_sphericity(objs::AbstractVector{<:AbstractFourMomentum{T}}) where {T}
    sxx = zero(T)
    syy = zero(T)
    sxy = zero(T)
    norm = zero(T)
    for o in objs
        ptv = pt(o)
        iszero(ptv) && continue
        # Linearised (1/pt) weights keep the tensor collinear-safe.
        sxx += px(o)^2 / ptv
        syy += py(o)^2 / ptv
        sxy += px(o) * py(o) / ptv
        norm += ptv
    end
    iszero(norm) && return zero(T)
    a, d, b = sxx / norm, syy / norm, sxy / norm
    tr = a + d
    disc = sqrt(max((a - d)^2 + 4b^2, zero(T)))
    λ2 = (tr - disc) / 2
    iszero(tr) ? zero(T) : clamp(2λ2 / tr, zero(T), one(T))
end

"""
    transverse_thrust(objs)

max over unit vectors n of Σ|pt·n| / Σ|pt|.  In two dimensions the maximum
is attained at n parallel to the sum over a half-plane, so checking the
half-planes bounded by each object's direction is exact (up to several
objects exactly collinear on the boundary) in O(N²).
"""
function transverse_thrust(objs::AbstractVector{<:AbstractFourMomentum{T}}) where {T}
    n = length(objs)
    n == 0 && return zero(T)
    xs = T[px(o) for o in objs]
    ys = T[py(o) for o in objs]
    den = sum(hypot(xs[i], ys[i]) for i in 1:n)
    iszero(den) && return zero(T)
    best = zero(T)
    for k in 1:n
        # Normal to object k: objects on one side form a candidate half-plane.
        nx, ny = -ys[k], xs[k]
        sx = zero(T)
        sy = zero(T)
        for i in 1:n
            if i != k && xs[i] * nx + ys[i] * ny > 0
                sx += xs[i]
                sy += ys[i]
            end
        end
        # Object k lies on the boundary and may belong to either side.
        best = max(best, 2 * hypot(sx, sy), 2 * hypot(sx + xs[k], sy + ys[k]))
    end
    # 2|Σ_half| = Σ|p·n| when total pt balances; cap at 1 for unbalanced sets.
    min(best / den, one(T))
end

"""
    dijet_chi(j1, j2)

χ = exp|y₁ - y₂|: flat for t-channel QCD scattering, peaked at low values
for an s-channel resonance.
"""
dijet_chi(j1::AbstractFourMomentum, j2::AbstractFourMomentum) = exp(abs(deltarapidity(j1, j2)))

"""
    match_partons(jets, partons, R)

For each parton, the index of the closest jet within ΔR < R (0 if none).
Greedy in parton order, which is adequate for the well-separated partons
of the toy generator.
"""
function match_partons(jets::AbstractVector{<:AbstractFourMomentum},
                       partons::AbstractVector{<:AbstractFourMomentum}, R::Real)
    used = falses(length(jets))
    out = zeros(Int, length(partons))
    for (k, q) in enumerate(partons)
        best, bi = Float64(R), 0
        for (i, j) in enumerate(jets)
            used[i] && continue
            d = Float64(deltaR(j, q))
            if d < best
                best, bi = d, i
            end
        end
        if bi > 0
            used[bi] = true
            out[k] = bi
        end
    end
    out
end
