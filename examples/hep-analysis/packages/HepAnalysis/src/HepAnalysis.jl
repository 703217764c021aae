"""
    HepAnalysis

A small but complete dijet analysis: a deterministic pseudo-event
generator, jet clustering with several algorithms, event selection and
histogramming, run side by side in `Float64` and `Float32` so the effect of
reduced precision on the physics output can be checked.

Entry point: [`main`](@ref).
"""
module HepAnalysis

using Printf
using Random
using Statistics
using FourVectors
using JetClustering
using HepHistograms

export Particle, Event, GeneratorConfig, generate_event, generate_events,
       JetInput, ParticleInput, TowerInput, towers,
       AnalysisConfig, JetAnalysis, EventShapes, CutFlow, RunningStats,
       default_configs, run_analysis, process!, summarize, compare_precisions,
       reference_check,
       report_histograms, write_histograms_csv, main, run_example,
       # Re-exported so a driver script only needs `using HepAnalysis`.
       render, writecsv

include("events.jl")
include("inputs.jl")
include("generator.jl")
include("stats.jl")
include("observables.jl")
include("analysis.jl")
include("driver.jl")
include("example.jl")

end # module
