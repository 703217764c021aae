"""
    HepStudy

The heavy example job: the complete HepAnalysis chain (event generation,
jet clustering, histograms in Float64 and Float32), then a resonance
study on top of it — dijet masses from the generated events, a battery of
toy-model fits with every shape, objective and minimizer of HepFits in
Float32, Float64 and BigFloat, systematic variations, bootstrap errors,
covariance propagation and a BLUE combination — and a report in text,
Markdown, CSV, LaTeX and JSON via HepReport.

Entry point: [`heavy_example`](@ref).  Everything is seeded: two runs
print the same bytes.
"""
module HepStudy

using Random
using FourVectors
using JetClustering
using HepHistograms
using HepAnalysis
using HepFits
using HepSystematics
using HepReport

export heavy_example, StudyConfig, dijet_masses, DijetSample, toy_truth, model_catalogue,
       FitSummary, summarize_fit, run_toy_fits, run_data_fits, run_systematics,
       run_bootstrap, run_propagation, run_combination, build_report, fnv1a

include("util.jl")
include("datasets.jl")
include("models.jl")
include("toyfits.jl")
include("datafits.jl")
include("uncertainties.jl")
include("report.jl")
include("example.jl")

end # module
