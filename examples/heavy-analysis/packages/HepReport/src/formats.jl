"""
    AbstractFormat

Output flavour for [`format_table`](@ref) and [`write_report`](@ref).
"""
abstract type AbstractFormat end

"""
    TextFormat(; rule='-', gap=2)

Aligned columns for terminals and batch logs.
"""
Base.@kwdef struct TextFormat <: AbstractFormat
    rule::Char = '-'
    gap::Int = 2
end

"""
    MarkdownFormat()

GitHub-flavoured Markdown pipe tables.
"""
struct MarkdownFormat <: AbstractFormat end

"""
    CSVFormat(; delim=',')

One header line and one line per row; cells quoted when needed.
"""
Base.@kwdef struct CSVFormat <: AbstractFormat
    delim::Char = ','
end

"""
    LaTeXFormat(; booktabs=true)

A `tabular` environment.
"""
Base.@kwdef struct LaTeXFormat <: AbstractFormat
    booktabs::Bool = true
end

"""
    JSONFormat(; indent=2)

Tables as arrays of objects keyed by column name, raw values (not the
formatted strings) so that consumers get full precision.
"""
Base.@kwdef struct JSONFormat <: AbstractFormat
    indent::Int = 2
end

_align(s::AbstractString, w::Int, a::Symbol) = a === :left ? rpad(s, w) :
    a === :center ? lpad(rpad(s, w - (w - length(s)) ÷ 2), w) : lpad(s, w)

"""
    format_table(io, t, fmt)

Write table `t` in format `fmt`.
"""
function format_table(io::IO, t::Table, f::TextFormat)
    cells = formatted_cells(t)
    heads = [header(c) for c in t.columns]
    widths = [max(length(heads[j]), reduce(max, (length(r[j]) for r in cells); init=0))
              for j in 1:ncols(t)]
    sep = repeat(' ', f.gap)
    total = sum(widths) + f.gap * (ncols(t) - 1)
    isempty(t.title) || println(io, t.title)
    println(io, join((_align(heads[j], widths[j], t.columns[j].align) for j in 1:ncols(t)), sep))
    println(io, repeat(f.rule, total))
    for r in cells
        println(io, join((_align(r[j], widths[j], t.columns[j].align) for j in 1:ncols(t)), sep))
    end
    nothing
end

_md_escape(s::AbstractString) = replace(s, "|" => "\\|")

function format_table(io::IO, t::Table, ::MarkdownFormat)
    cells = formatted_cells(t)
    isempty(t.title) || println(io, "**", _md_escape(t.title), "**\n")
    println(io, "| ", join((_md_escape(header(c)) for c in t.columns), " | "), " |")
    marks = [c.align === :left ? ":---" : c.align === :center ? ":---:" : "---:" for c in t.columns]
    println(io, "|", join(marks, "|"), "|")
    for r in cells
        println(io, "| ", join((_md_escape(x) for x in r), " | "), " |")
    end
    nothing
end

function _csv_cell(s::AbstractString, delim::Char)
    needs = occursin(delim, s) || occursin('"', s) || occursin('\n', s)
    needs ? string('"', replace(s, "\"" => "\"\""), '"') : s
end

# CSV gets plain numbers: value ± error cells become two columns.
# Eight significant digits without the trailing zeros.
function _csv_number(x::Real)
    s = format_sig(x, 8)
    (occursin('.', s) && !occursin('e', s)) || return s
    s = rstrip(s, '0')
    String(endswith(s, ".") ? s[1:(end - 1)] : s)
end
_csv_split(c::Column, v::Tuple{Real,Real}) = (_csv_number(v[1]), _csv_number(v[2]))
_csv_split(c::Column, v::AbstractFloat) = (_csv_number(v),)
_csv_split(c::Column, v) = (cell_string(c, v),)
_csv_heads(c::Column, v::Tuple{Real,Real}) = (header(c), header(c) * " error")
_csv_heads(c::Column, v) = (header(c),)

function format_table(io::IO, t::Table, f::CSVFormat)
    d = string(f.delim)
    proto = isempty(t.rows) ? Any[nothing for _ in t.columns] : t.rows[1]
    heads = String[]
    for j in 1:ncols(t)
        append!(heads, _csv_heads(t.columns[j], proto[j]))
    end
    println(io, join((_csv_cell(h, f.delim) for h in heads), d))
    for r in t.rows
        out = String[]
        for j in 1:ncols(t)
            append!(out, _csv_split(t.columns[j], r[j]))
        end
        println(io, join((_csv_cell(x, f.delim) for x in out), d))
    end
    nothing
end

const _LATEX_SPECIAL = ('&' => "\\&", '%' => "\\%", '#' => "\\#", '_' => "\\_", '$' => "\\\$",
                        '{' => "\\{", '}' => "\\}", '±' => "\$\\pm\$")

function _latex_escape(s::AbstractString)
    io = IOBuffer()
    for ch in s
        rep = nothing
        for (k, v) in _LATEX_SPECIAL
            ch == k && (rep = v)
        end
        print(io, rep === nothing ? ch : rep)
    end
    String(take!(io))
end

function format_table(io::IO, t::Table, f::LaTeXFormat)
    cells = formatted_cells(t)
    spec = join(c.align === :left ? "l" : c.align === :center ? "c" : "r" for c in t.columns)
    println(io, "\\begin{tabular}{", spec, "}")
    println(io, f.booktabs ? "\\toprule" : "\\hline")
    println(io, join((_latex_escape(header(c)) for c in t.columns), " & "), " \\\\")
    println(io, f.booktabs ? "\\midrule" : "\\hline")
    for r in cells
        println(io, join((_latex_escape(x) for x in r), " & "), " \\\\")
    end
    println(io, f.booktabs ? "\\bottomrule" : "\\hline")
    println(io, "\\end{tabular}")
    nothing
end

# JSON documents are built from Pair{String,Any} vectors rather than named
# tuples: one writer method serves every table instead of one
# specialisation per row shape.  They are written as typed literals,
# `Pair{String,Any}[...]`: an untyped literal of pairs with different value
# types calls `Base.vect` with a signature Julia widens to `Vararg{Any}`,
# which cannot be compiled ahead into a system image.
const JSONObject = Vector{Pair{String,Any}}

_json_cell(v::Tuple{Real,Real}) = Pair{String,Any}["value" => v[1], "error" => v[2]]
_json_cell(v) = v

function table_json(t::Table)
    rows = Any[]
    for r in t.rows
        push!(rows, JSONObject([header(t.columns[j]) => _json_cell(r[j]) for j in 1:ncols(t)]))
    end
    Pair{String,Any}["title" => t.title, "columns" => Any[header(c) for c in t.columns], "rows" => rows]
end

format_table(io::IO, t::Table, f::JSONFormat) = write_json(io, table_json(t); indent=f.indent)
