# Representative batch job for the hep-analysis example: generate events, run
# every jet configuration in Float64 and Float32, render histograms and write
# CSV output.  The compute itself takes a fraction of a second; almost all of
# a cold run is compilation, which is what a system image removes.
using HepAnalysis

run_example(stdout)
