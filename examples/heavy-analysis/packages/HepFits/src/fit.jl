# The fit driver: bounds and fixed parameters are handled by a change of
# variables (Minuit's transformations), the minimizers see a scaled,
# unconstrained problem, and errors come from the numerical Hessian at the
# minimum propagated back through the transformation.

"""
    ParTransform{T}

Map between the minimizer's internal coordinates `u` and the model's full
parameter vector θ.  Free parameter `k` (θ index `free[k]`) has internal
value v = v0 + s·u, and θ = t(v) with t depending on its bounds:
both bounds: lo + (hi-lo)(sin v + 1)/2; lower: lo - 1 + √(v²+1);
upper: hi + 1 - √(v²+1); none: v.
"""
struct ParTransform{T<:AbstractFloat}
    template::Vector{T}
    free::Vector{Int}
    lo::Vector{T}
    hi::Vector{T}
    kind::Vector{Int8}
    v0::Vector{T}
    s::Vector{T}
end

const _NOBOUND, _LOWER, _UPPER, _BOTH = Int8(0), Int8(1), Int8(2), Int8(3)

function _to_internal(kind::Int8, lo::T, hi::T, θ::T) where {T}
    if kind == _BOTH
        r = clamp(2 * (θ - lo) / (hi - lo) - 1, -one(T), one(T))
        return asin(r)
    elseif kind == _LOWER
        return sqrt(max((θ - lo + 1)^2 - 1, zero(T)))
    elseif kind == _UPPER
        return sqrt(max((hi - θ + 1)^2 - 1, zero(T)))
    end
    θ
end

function _to_external(kind::Int8, lo::T, hi::T, v::T) where {T}
    kind == _BOTH && return lo + (hi - lo) * (sin(v) + 1) / 2
    kind == _LOWER && return lo - 1 + sqrt(v * v + 1)
    kind == _UPPER && return hi + 1 - sqrt(v * v + 1)
    v
end

function _dexternal(kind::Int8, lo::T, hi::T, v::T) where {T}
    kind == _BOTH && return (hi - lo) * cos(v) / 2
    kind == _LOWER && return v / sqrt(v * v + 1)
    kind == _UPPER && return -v / sqrt(v * v + 1)
    one(T)
end

function ParTransform(start::Vector{T}, bounds::Vector{Tuple{Float64,Float64}},
                      free::Vector{Int}, steps::Vector{T}) where {T}
    nf = length(free)
    lo = Vector{T}(undef, nf)
    hi = Vector{T}(undef, nf)
    kind = Vector{Int8}(undef, nf)
    v0 = Vector{T}(undef, nf)
    s = Vector{T}(undef, nf)
    for (k, i) in enumerate(free)
        l, h = bounds[i]
        lo[k] = isfinite(l) ? T(l) : T(-Inf)
        hi[k] = isfinite(h) ? T(h) : T(Inf)
        kind[k] = isfinite(l) && isfinite(h) ? _BOTH : isfinite(l) ? _LOWER :
                  isfinite(h) ? _UPPER : _NOBOUND
        θ = start[i]
        # A start exactly on a bound sits where the transformation has zero
        # slope; nudge it inside.
        if kind[k] != _NOBOUND
            room = kind[k] == _BOTH ? (hi[k] - lo[k]) / 1000 : T(1e-3) * max(abs(θ), one(T))
            isfinite(lo[k]) && (θ = max(θ, lo[k] + room))
            isfinite(hi[k]) && (θ = min(θ, hi[k] - room))
        end
        v = _to_internal(kind[k], lo[k], hi[k], θ)
        v0[k] = v
        d = abs(_dexternal(kind[k], lo[k], hi[k], v))
        s[k] = steps[i] / max(d, T(1e-3))
    end
    ParTransform{T}(copy(start), free, lo, hi, kind, v0, s)
end

nfree(t::ParTransform) = length(t.free)

"""
    external(t, u)

Full parameter vector θ for internal coordinates `u`.
"""
function external(t::ParTransform{T}, u::AbstractVector{T}) where {T}
    θ = copy(t.template)
    for k in eachindex(t.free)
        θ[t.free[k]] = _to_external(t.kind[k], t.lo[k], t.hi[k], t.v0[k] + t.s[k] * u[k])
    end
    θ
end

jacobian_diag(t::ParTransform{T}, u::AbstractVector{T}) where {T} =
    T[_dexternal(t.kind[k], t.lo[k], t.hi[k], t.v0[k] + t.s[k] * u[k]) * t.s[k] for k in eachindex(u)]

struct InternalObjective{O,T}
    obj::O
    tr::ParTransform{T}
end
(f::InternalObjective{O,T})(u::AbstractVector{T}) where {O,T} = f.obj(external(f.tr, u))

"""
    ErasedObjective{T}

The objective as the minimizers see it: its concrete type hidden behind
one dynamic call per evaluation.  An evaluation loops over thousands of
events, so the call costs nothing measurable, while the minimizers,
line search and finite differences compile once per element type instead
of once per model and objective (Optim.jl makes the same trade to cut
latency).
"""
struct ErasedObjective{T}
    f::Any
end
(e::ErasedObjective{T})(u::AbstractVector{T}) where {T} = e.f(u)::T

# ---------------------------------------------------------------------------

"""
    FitResult

Outcome of [`fit`](@ref): best-fit model and parameters, symmetric errors
and covariance (zero rows for fixed parameters), objective value, EDM,
convergence flag, and the objective itself so the fit can be profiled or
repeated.
"""
struct FitResult{T<:AbstractFloat,M<:AbstractShape,O<:AbstractObjective{T},A<:AbstractMinimizer}
    objective::O
    model::M
    names::Vector{String}
    values::Vector{T}
    errors::Vector{T}
    cov::Matrix{T}
    free::Vector{Bool}
    fval::T
    edm::T
    iterations::Int
    ncalls::Int
    converged::Bool
    covok::Bool
    status::String
    method::A
end

Base.eltype(::FitResult{T}) where {T} = T
bestfit_model(r::FitResult) = r.model

function _index(r::FitResult, name::AbstractString)
    i = findfirst(==(name), r.names)
    i === nothing && throw(KeyError(name))
    i
end

"""
    parameter(r, name), parerror(r, name)

Best-fit value and symmetric error of one parameter by name.
"""
parameter(r::FitResult, name::AbstractString) = r.values[_index(r, name)]
parerror(r::FitResult, name::AbstractString) = r.errors[_index(r, name)]

"""
    correlation_matrix(r)

Correlations of the free parameters (NaN where an error is zero).
"""
function correlation_matrix(r::FitResult{T}) where {T}
    idx = findall(r.free)
    n = length(idx)
    C = Matrix{T}(undef, n, n)
    for (b, j) in enumerate(idx), (a, i) in enumerate(idx)
        d = sqrt(r.cov[i, i] * r.cov[j, j])
        C[a, b] = d > 0 ? r.cov[i, j] / d : T(NaN)
    end
    C
end

function _default_steps(start::Vector{T}, bounds) where {T}
    steps = similar(start)
    for i in eachindex(start)
        l, h = bounds[i]
        st = T(0.1) * max(abs(start[i]), T(1e-3))
        if isfinite(l) && isfinite(h)
            st = min(st, T((h - l) / 20))
        end
        steps[i] = st
    end
    steps
end

"""
    fit(obj; method=Hybrid(BFGS(), Newton()), start, fix, bounds, steps, tol)

Minimise `obj` over the parameters of its model.

* `start`: starting values (default: the model's parameters);
* `fix`: `Dict(name => value)` of parameters held constant;
* `bounds`: `Dict(name => (lo, hi))` overriding the shape's natural bounds;
* `steps`: `Dict(name => step)`, the expected scale of each parameter's
  error (default 10% of its value);
* `tol`: EDM tolerance (default ≈ 3√eps of the fit precision).
"""
function fit(obj::AbstractObjective{T}; method::AbstractMinimizer=Hybrid(BFGS(), Newton()),
             start::AbstractVector{<:Real}=parvalues(objective_model(obj)),
             fix::AbstractDict=Dict{String,Float64}(),
             bounds::AbstractDict=Dict{String,Tuple{Float64,Float64}}(),
             steps::AbstractDict=Dict{String,Float64}(),
             tol::Real=default_tol(T)) where {T}
    model = objective_model(obj)
    names = parnames(model)
    n = length(names)
    θ0 = T.(start)
    length(θ0) == n || throw(ArgumentError("model has $n parameters, got $(length(θ0)) starting values"))
    bnds = parbounds(model)
    for (k, v) in bounds
        bnds[_nameindex(names, k)] = (Float64(v[1]), Float64(v[2]))
    end
    isfree = trues(n)
    for (k, v) in fix
        i = _nameindex(names, k)
        isfree[i] = false
        θ0[i] = T(v)
    end
    st = _default_steps(θ0, bnds)
    for (k, v) in steps
        st[_nameindex(names, k)] = T(v)
    end
    tr = ParTransform(θ0, bnds, findall(isfree), st)
    f = ErasedObjective{T}(InternalObjective(obj, tr))
    u0 = zeros(T, nfree(tr))
    mr = minimize(method, f, u0; tol=T(tol) * 2 * errordef(obj))
    _finish(obj, model, names, tr, f, mr, method, collect(isfree))
end

function _nameindex(names::Vector{String}, k)
    i = findfirst(==(String(k)), names)
    i === nothing && throw(ArgumentError("no parameter named $k; have $(join(names, ", "))"))
    i
end

function _finish(obj::AbstractObjective{T}, model, names, tr::ParTransform{T}, f::ErasedObjective{T},
                 mr::MinResult{T}, method, isfree::Vector{Bool}) where {T}
    θ = external(tr, mr.x)
    n = length(θ)
    cov = zeros(T, n, n)
    errs = zeros(T, n)
    covok = false
    if nfree(tr) > 0
        _, H, _ = numhessian(f, mr.x, mr.fval)
        Cu, covok = spd_inverse(H)
        if covok
            J = jacobian_diag(tr, mr.x)
            up = 2 * errordef(obj)
            for b in 1:nfree(tr), a in 1:nfree(tr)
                cov[tr.free[a], tr.free[b]] = up * J[a] * Cu[a, b] * J[b]
            end
        else
            for a in 1:nfree(tr)
                cov[tr.free[a], tr.free[a]] = T(NaN)
            end
        end
        for i in 1:n
            errs[i] = isfree[i] ? sqrt(max(cov[i, i], zero(T))) : zero(T)
            isnan(cov[i, i]) && (errs[i] = T(NaN))
        end
    end
    best = withparams(model, θ)
    FitResult(obj, best, names, θ, errs, cov, isfree, mr.fval, mr.edm, mr.iterations, mr.ncalls,
              mr.converged, covok, mr.status, method)
end

"""
    refit(r, obj; kwargs...)

Fit a new objective (e.g. varied data) starting from the values of an
earlier result, with the same method unless told otherwise.
"""
refit(r::FitResult, obj::AbstractObjective{T}; method::AbstractMinimizer=r.method,
      kwargs...) where {T} = fit(obj; method=method, start=T.(r.values), kwargs...)

"""
    profile_scan(r, name, values; method=Newton())

Minimum of the objective with `name` fixed at each of `values` (all other
free parameters refitted), relative to the global minimum and in units of
the error definition: ≈ ((v - v̂)/σ)² near the minimum.
"""
function profile_scan(r::FitResult{T}, name::AbstractString, values::AbstractVector{<:Real};
                      method::AbstractMinimizer=Newton(), fix::AbstractDict=Dict{String,Float64}()) where {T}
    out = Vector{T}(undef, length(values))
    for (k, v) in enumerate(values)
        fx = Dict{String,Float64}(String(a) => Float64(b) for (a, b) in fix)
        fx[String(name)] = Float64(v)
        rk = fit(r.objective; method=method, start=r.values, fix=fx)
        out[k] = (rk.fval - r.fval) / errordef(r.objective)
    end
    out
end

"""
    likelihood_ratio(null, alt)

Test statistic q = 2(NLL_null - NLL_alt) (for χ² fits, the χ² difference).
"""
likelihood_ratio(null::FitResult{T}, alt::FitResult{T}) where {T} =
    max((null.fval - alt.fval) / errordef(alt.objective), zero(T))

"""
    significance(null, alt)

√q, the Gaussian-equivalent significance of the alternative for one
degree of freedom (Wilks).
"""
significance(null::FitResult, alt::FitResult) = sqrt(likelihood_ratio(null, alt))

"""
    goodness_of_fit(r) -> (chi2, ndf, pvalue)

For binned fits: the Baker-Cousins χ² (or plain χ²) with its degrees of
freedom and p-value.  Unbinned fits have no absolute goodness of fit and
return NaN.
"""
function goodness_of_fit(r::FitResult{T}) where {T}
    o = r.objective
    nfr = count(r.free)
    if o isa BinnedNLL
        chi2 = 2 * r.fval
    elseif o isa Chi2
        chi2 = r.fval
    else
        return (T(NaN), 0, T(NaN))
    end
    ndf = ndata(o) - nfr
    (chi2, ndf, chi2_pvalue(chi2, ndf))
end

function Base.show(io::IO, r::FitResult{T}) where {T}
    println(io, "FitResult{", T, "} ", r.method, ": ", r.converged ? "converged" : "NOT converged",
            " (", r.status, "), fval=", @sprintf("%.6f", Float64(r.fval)), " edm=",
            @sprintf("%.2e", Float64(r.edm)), " calls=", r.ncalls)
    for i in eachindex(r.names)
        println(io, "  ", rpad(r.names[i], 14), @sprintf("%14.6g", Float64(r.values[i])),
                r.free[i] ? @sprintf(" +- %.3g", Float64(r.errors[i])) : " (fixed)")
    end
end
