"""
    Column(name; align=:right, format=auto, unit="")

One column of a [`Table`](@ref): how its cells are turned into text.
`format` is any function of the cell value returning a string; the
default picks a representation from the value's type (value ± error for
tuples `(v, e)`, four significant digits for floats).
"""
struct Column{F}
    name::String
    align::Symbol
    format::F
    unit::String
end

Column(name::AbstractString; align::Symbol=:right, format=auto_format, unit::AbstractString="") =
    Column(String(name), align, format, String(unit))

header(c::Column) = isempty(c.unit) ? c.name : string(c.name, " [", c.unit, "]")
cell_string(c::Column, v) = c.format(v)

"""
    SigDigits(n), Fixed(decimals), Sci(n)

Reusable cell formatters: significant digits, fixed decimals and
scientific notation.  Value ± error tuples are formatted with the PDG
rule whatever the formatter.
"""
struct SigDigits
    n::Int
end
struct Fixed
    decimals::Int
end
struct Sci
    n::Int
end
(f::SigDigits)(v::Real) = format_sig(v, f.n)
(f::Fixed)(v::Real) = format_fixed(v, f.decimals)
(f::Sci)(v::Real) = format_sci(v, f.n)
(f::Union{SigDigits,Fixed,Sci})(v::Tuple{Real,Real}) = format_pm(v[1], v[2])
(f::Union{SigDigits,Fixed,Sci})(v) = auto_format(v)

"""
    auto_format(v)

Default cell formatting by type.
"""
auto_format(v::AbstractString) = String(v)
auto_format(v::Symbol) = String(v)
auto_format(v::Bool) = v ? "yes" : "no"
auto_format(v::Integer) = string(v)
auto_format(v::AbstractFloat) = format_sig(v, 4)
auto_format(v::Rational) = string(numerator(v), "/", denominator(v))
auto_format(v::Tuple{Real,Real}) = format_pm(v[1], v[2])
auto_format(::Nothing) = "-"
auto_format(::Missing) = "-"
auto_format(v) = string(v)

"""
    Table(columns; title="")

Rows of heterogeneous cells under typed column formatters.
"""
struct Table
    title::String
    columns::Vector{Column}
    rows::Vector{Vector{Any}}
end

Table(columns::AbstractVector{<:Column}; title::AbstractString="") =
    Table(String(title), Vector{Column}(columns), Vector{Any}[])
Table(names::AbstractVector{<:AbstractString}; title::AbstractString="") =
    Table([Column(n; align=(i == 1 ? :left : :right)) for (i, n) in enumerate(names)]; title=title)

nrows(t::Table) = length(t.rows)
ncols(t::Table) = length(t.columns)

"""
    addrow!(t, cells...)

Append a row; the number of cells must match the columns.
"""
function addrow!(t::Table, cells...)
    length(cells) == ncols(t) || throw(ArgumentError("row has $(length(cells)) cells, table has $(ncols(t)) columns"))
    push!(t.rows, collect(Any, cells))  # not Any[cells...]: see the README, "What an image cannot hold"
    t
end

"""
    column_values(t, name)

The raw cells of one column.
"""
function column_values(t::Table, name::AbstractString)
    j = findfirst(c -> c.name == name, t.columns)
    j === nothing && throw(KeyError(name))
    [r[j] for r in t.rows]
end

formatted_cells(t::Table) = [[cell_string(t.columns[j], r[j]) for j in 1:ncols(t)] for r in t.rows]
