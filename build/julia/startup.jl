# Traced with Julia's own native code switched off (pipeline.py, slim
# images): what every job needs at start (`julia -e`, include) and when it
# fails (Julia's report of an uncaught error), which Julia's own image
# holds compiled and a slim base must hold too.
try
    error("a job that fails")
catch err
    Base.display_error(stderr, err, catch_backtrace())
end
