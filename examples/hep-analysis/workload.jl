# Representative batch job for the hep-analysis example: generate events,
# run every jet configuration in Float64 and Float32, render histograms and
# write CSV output.  The compute itself takes a fraction of a second; almost
# all of a cold run is compilation, which is what a system image removes.
using HepAnalysis

results = main(nevents=150, seed=20201)

report_histograms(stdout, results.Float64)
report_histograms(stdout, results.Float32)
report_histograms(stdout, results.Float64; analysis=2)   # calorimeter towers
report_histograms(stdout, results.Float32; analysis=6)   # large-R, pt-scheme

# Temporary paths vary between runs, so only sizes are printed.
mktempdir() do dir
    for r in (results.Float64, results.Float32)
        files, rows = write_histograms_csv(mkpath(joinpath(dir, string(eltype(r)))), r)
        println("csv ", eltype(r), ": ", length(files), " files, ", rows, " rows, ",
                sum(filesize, files), " bytes")
    end
end
