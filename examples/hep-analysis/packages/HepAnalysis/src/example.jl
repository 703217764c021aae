# The example batch job as one function: a job script that only calls into
# packages compiles nothing at run time from an image, whereas top-level
# code in the script (closures, literals) is compiled on every run.
"""
    run_example(io::IO = stdout; nevents = 150, seed = 20201)

Generate events, run every jet configuration in Float64 and Float32, render
histograms and write CSV output to a temporary folder (only sizes are
printed, so two runs give identical output).
"""
function run_example(io::IO = stdout; nevents::Integer = 150, seed::Integer = 20201)
    results = main(nevents = nevents, seed = seed, out = io)
    report_histograms(io, results.Float64)
    report_histograms(io, results.Float32)
    report_histograms(io, results.Float64; analysis = 2)   # calorimeter towers
    report_histograms(io, results.Float32; analysis = 6)   # large-R, pt-scheme
    mktempdir() do dir
        _write_csv_summary(io, dir, results.Float64)
        _write_csv_summary(io, dir, results.Float32)
    end
    return results
end

function _write_csv_summary(io::IO, dir::AbstractString, r)
    label = precision_label(eltype(r))
    files, rows = write_histograms_csv(mkpath(joinpath(dir, label)), r)
    println(io, "csv ", label, ": ", length(files), " files, ", rows, " rows, ", sum(filesize, files), " bytes")
end
