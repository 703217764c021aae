"""
    AnalysisConfig(name, algorithm; input, scheme, jets, lead_ptmin, max_dy, mjj_min)

One variant of the dijet selection.  The algorithm, recombination scheme,
jet selector and jet input are type parameters, so each variant gets its
own compiled event loop with the distance measure and cuts inlined.
"""
struct AnalysisConfig{A<:AbstractJetAlgorithm,S<:RecombinationScheme,J<:JetSelector,
                      I<:JetInput}
    name::String
    algorithm::A
    scheme::S
    jets::J
    input::I
    lead_ptmin::Float64
    max_dy::Float64
    mjj_min::Float64
end

function AnalysisConfig(name::AbstractString, alg::AbstractJetAlgorithm;
                        input::JetInput=ParticleInput(), scheme::RecombinationScheme=EScheme(),
                        jets::JetSelector=PtMin(25.0) & AbsRapMax(2.5),
                        lead_ptmin::Real=60.0, max_dy::Real=1.3, mjj_min::Real=150.0)
    AnalysisConfig(String(name), alg, scheme, jets, input, Float64(lead_ptmin), Float64(max_dy),
                   Float64(mjj_min))
end

"""
    default_configs()

The variants run by `main`: the standard small-R anti-kt analysis, the
same on calorimeter towers, kt, C/A and a generalised-kt exponent for
comparison, and large-R jets with alternative recombination.
"""
default_configs() = (
    AnalysisConfig("antikt04", AntiKt(0.4)),
    AnalysisConfig("calo04", AntiKt(0.4); input=TowerInput()),
    AnalysisConfig("kt04", Kt(0.4)),
    AnalysisConfig("genkt06", GenKt(0.5, 0.6); scheme=Pt2Scheme(),
                   jets=PtMin(25.0) & AbsRapMax(2.5) & !MassMin(200.0)),
    AnalysisConfig("ca08wta", CambridgeAachen(0.8); scheme=WTAScheme(),
                   jets=PtMin(30.0) & AbsEtaMax(2.0)),
    AnalysisConfig("antikt10pt", AntiKt(1.0); scheme=PtScheme(),
                   jets=PtMin(50.0) & AbsEtaMax(2.0) & NConstituentsMin(3),
                   lead_ptmin=100.0, mjj_min=250.0),
)

const CUT_NAMES = ["all", ">=1 jet", ">=2 jets", "lead pt", "|dy|", "mjj"]

# Jet spectra fall steeply, so pt and mass use variable bins roughly
# matching detector resolution, as a real dijet search would.
const PT_EDGES = [20.0, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500,
                  700, 1000, 1500]
const MJJ_EDGES = [100.0, 125, 150, 175, 200, 240, 280, 320, 360, 380, 400, 420, 440,
                   480, 520, 580, 650, 750, 900, 1100, 1400, 2000]

const RangeEdges = typeof(range(0.0, 1.0; length=2))
const H1{W} = Hist1D{W,RangeEdges}
const V1{W} = Hist1D{W,Vector{Float64}}
const H2{W} = Hist2D{W,RangeEdges,RangeEdges}
const P1{T} = Profile1D{T,Vector{Float64}}

_h1(::Type{W}, n, lo, hi) where {W} = Hist1D{W}(range(Float64(lo), Float64(hi); length=n + 1))
_h2(::Type{W}, nx, xlo, xhi, ny, ylo, yhi) where {W} =
    Hist2D{W}(range(Float64(xlo), Float64(xhi); length=nx + 1),
              range(Float64(ylo), Float64(yhi); length=ny + 1))

"""
    JetAnalysis{T}(cfg)

Histograms and counters for one configuration, filled in precision `T`.
Counting histograms use `Int` weights; physics distributions carry the
event weight in `T`.
"""
struct JetAnalysis{T<:AbstractFloat,A,S,J,I}
    cfg::AnalysisConfig{A,S,J,I}
    cutflow::CutFlow{T}
    njets::H1{Int}
    nconst::H1{Int}
    jet_pt::V1{T}
    lead_pt::V1{T}
    jet_eta::H1{T}
    jet_phi::H1{Int}
    jet_mass::H1{T}
    jet_width::H1{T}
    jet_ptd::H1{T}
    jet_charge::H1{T}
    mjj::V1{T}
    chi::H1{T}
    costheta::H1{T}
    dphi::H1{T}
    response::H1{T}
    pt12::H2{T}
    etaphi::H2{Int}
    mass_vs_pt::P1{T}
    width_vs_pt::P1{T}
    response_vs_pt::P1{T}
    s_njets::RunningStats{T}
    s_jetpt::RunningStats{T}
    s_leadpt::RunningStats{T}
    s_mass::RunningStats{T}
    s_mjj::RunningStats{T}
    s_response::RunningStats{T}
end

function JetAnalysis{T}(cfg::AnalysisConfig{A,S,J,I}) where {T,A,S,J,I}
    R = radius(cfg.algorithm)
    JetAnalysis{T,A,S,J,I}(cfg, CutFlow{T}(CUT_NAMES),
        _h1(Int, 16, -0.5, 15.5), _h1(Int, 20, 0, 60),
        Hist1D{T}(PT_EDGES), Hist1D{T}(PT_EDGES),
        _h1(T, 24, -3, 3), _h1(Int, 16, -π, π), _h1(T, 25, 0, 25R + 25),
        _h1(T, 20, 0, R), _h1(T, 20, 0, 1), _h1(T, 20, -1, 1),
        Hist1D{T}(MJJ_EDGES), _h1(T, 15, 1, 16), _h1(T, 20, -1, 1), _h1(T, 16, 0, π),
        _h1(T, 30, 0, 1.5),
        _h2(T, 20, 0, 600, 20, 0, 600), _h2(Int, 24, -3, 3, 16, -π, π),
        Profile1D{T}(PT_EDGES), Profile1D{T}(PT_EDGES), Profile1D{T}(PT_EDGES),
        RunningStats{T}(), RunningStats{T}(), RunningStats{T}(), RunningStats{T}(),
        RunningStats{T}(), RunningStats{T}())
end

"""
    process!(ana, ev)

Cluster one event and fill everything the selection lets through.
"""
function process!(ana::JetAnalysis{T}, ev::Event{T}) where {T}
    cfg = ana.cfg
    w = ev.weight
    inputs = jet_inputs(cfg.input, ev)
    cs = cluster(inputs, cfg.algorithm; scheme=cfg.scheme)
    jets = select_jets(inclusive_jets(cs; ptmin=10), cfg.jets)
    charges = input_charges(cfg.input, ev, inputs)

    pass!(ana.cutflow, 1, w)
    fill!(ana.njets, length(jets))
    push!(ana.s_njets, length(jets), w)
    for j in jets
        fill_jet!(ana, j, inputs, charges, w)
    end
    fill_response!(ana, jets, ev, w)

    isempty(jets) && return ana
    pass!(ana.cutflow, 2, w)
    length(jets) >= 2 || return ana
    pass!(ana.cutflow, 3, w)
    j1, j2 = jets[1], jets[2]
    pt(j1) >= cfg.lead_ptmin || return ana
    pass!(ana.cutflow, 4, w)
    fill!(ana.lead_pt, pt(j1), w)
    fill!(ana.pt12, pt(j1), pt(j2), w)
    push!(ana.s_leadpt, pt(j1), w)

    abs(deltarapidity(j1, j2)) <= cfg.max_dy || return ana
    pass!(ana.cutflow, 5, w)
    m = invariant_mass(j1, j2)
    fill!(ana.mjj, m, w)
    fill!(ana.chi, dijet_chi(j1, j2), w)
    fill!(ana.costheta, costheta_star(j1, j2), w)
    fill!(ana.dphi, abs(deltaphi(j1, j2)), w)

    m >= cfg.mjj_min || return ana
    pass!(ana.cutflow, 6, w)
    push!(ana.s_mjj, m, w)
    ana
end

function fill_jet!(ana::JetAnalysis{T}, j::Jet{T},
                   inputs::AbstractVector{<:AbstractFourMomentum{T}}, charges, w::T) where {T}
    ptj = pt(j)
    fill!(ana.jet_pt, ptj, w)
    fill!(ana.jet_eta, eta(j), w)
    fill!(ana.jet_phi, phi(j))
    fill!(ana.jet_mass, mass(j), w)
    fill!(ana.nconst, nconstituents(j))
    width = jet_width(j, inputs)
    fill!(ana.jet_width, width, w)
    fill!(ana.jet_ptd, jet_ptd(j, inputs), w)
    fill!(ana.jet_charge, jet_charge(j, inputs, charges), w)
    fill!(ana.etaphi, eta(j), phi(j))
    fill!(ana.mass_vs_pt, ptj, mass(j), w)
    fill!(ana.width_vs_pt, ptj, width, w)
    push!(ana.s_jetpt, ptj, w)
    push!(ana.s_mass, mass(j), w)
    ana
end

function fill_response!(ana::JetAnalysis{T}, jets::Vector{Jet{T}}, ev::Event{T}, w::T) where {T}
    matched = match_partons(jets, ev.partons, radius(ana.cfg.algorithm))
    for (k, q) in enumerate(ev.partons)
        i = matched[k]
        i == 0 && continue
        r = pt(jets[i]) / pt(q)
        fill!(ana.response, r, w)
        fill!(ana.response_vs_pt, pt(q), r, w)
        push!(ana.s_response, r, w)
    end
    ana
end

"""
    EventShapes{T}()

Observables that do not depend on the jet definition, filled once per
event.
"""
struct EventShapes{T<:AbstractFloat}
    nparticles::H1{Int}
    ncharged::H1{Int}
    ht::H1{T}
    met::H1{T}
    sphericity::H1{T}
    thrust::H1{T}
    log_d23::H1{T}
    excl_mjj::V1{T}
    thrust_vs_ht::P1{T}
    s_ht::RunningStats{T}
    s_thrust::RunningStats{T}
    s_nparticles::RunningStats{T}
end

EventShapes{T}() where {T} = EventShapes{T}(
    _h1(Int, 25, 0, 250), _h1(Int, 25, 0, 150), _h1(T, 30, 0, 1500), _h1(T, 20, 0, 100),
    _h1(T, 20, 0, 1), _h1(T, 20, 0.5, 1), _h1(T, 20, -1, 3), Hist1D{T}(MJJ_EDGES),
    Profile1D{T}([0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 1000.0, 1500.0]),
    RunningStats{T}(), RunningStats{T}(), RunningStats{T}())

function process!(es::EventShapes{T}, ev::Event{T}) where {T}
    w = ev.weight
    ps = ev.particles
    fill!(es.nparticles, length(ps))
    fill!(es.ncharged, count(ischarged, ps))
    ht = scalar_ht(ps)
    fill!(es.ht, ht, w)
    fill!(es.met, missing_pt(ps), w)
    fill!(es.sphericity, transverse_sphericity(ps), w)
    thr = transverse_thrust(ps)
    fill!(es.thrust, thr, w)
    fill!(es.thrust_vs_ht, ht, thr, w)
    # Exclusive kt with R=1 gives the classic d23 splitting scale, the
    # quantity used to separate 2-jet from 3-jet topologies.
    cs = cluster(ps, Kt(1.0))
    d23 = exclusive_dmerge(cs, 2)
    d23 > 0 && fill!(es.log_d23, log10(sqrt(d23)), w)
    if length(ps) >= 2
        ej = exclusive_jets(cs, 2)
        fill!(es.excl_mjj, invariant_mass(ej[1], ej[2]), w)
    end
    push!(es.s_ht, ht, w)
    push!(es.s_thrust, thr, w)
    push!(es.s_nparticles, length(ps))
    es
end
