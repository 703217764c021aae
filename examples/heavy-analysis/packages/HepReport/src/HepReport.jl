"""
    HepReport

Tables and reports of numerical results for batch logs and for machines:
plain text, Markdown, CSV, LaTeX and JSON from one description.  Numbers
are formatted by this package (significant digits, value ± error with the
PDG rounding rule) for every real type including `BigFloat`, so output is
stable across precisions and Julia versions.  A small JSON reader checks
that what was written parses back.
"""
module HepReport

export format_sig, format_fixed, format_pm, pdg_round, format_sci,
       Column, Table, SigDigits, Fixed, Sci, addrow!, nrows, ncols, column_values,
       AbstractFormat, TextFormat, MarkdownFormat, CSVFormat, LaTeXFormat, JSONFormat,
       format_table, Report, Section, Paragraph, KeyValues, TableBlock, Preformatted,
       addsection!, addblock!, write_report, report_string,
       write_json, json_string, parse_json, JSONNull

include("numbers.jl")
include("table.jl")
include("json.jl")
include("formats.jl")
include("report.jl")

end # module
