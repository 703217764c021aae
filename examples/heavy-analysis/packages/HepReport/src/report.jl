"""
    Block

Content of a report section: [`Paragraph`](@ref), [`KeyValues`](@ref),
[`TableBlock`](@ref) or [`Preformatted`](@ref).
"""
abstract type Block end

"""
    Paragraph(text)
"""
struct Paragraph <: Block
    text::String
end

"""
    KeyValues(pairs)

A list of named results; values are formatted like table cells.
"""
struct KeyValues <: Block
    pairs::Vector{Pair{String,Any}}
end
KeyValues(ps::Pair...) = KeyValues(Pair{String,Any}[String(p.first) => p.second for p in ps])

"""
    TableBlock(table)
"""
struct TableBlock <: Block
    table::Table
end

"""
    Preformatted(text)

Verbatim text (e.g. a rendered histogram).
"""
struct Preformatted <: Block
    text::String
end

struct Section
    title::String
    blocks::Vector{Block}
end
Section(title::AbstractString) = Section(String(title), Block[])

"""
    Report(title; meta...)

A titled list of sections, plus metadata (run parameters) shown at the
top.
"""
struct Report
    title::String
    meta::Vector{Pair{String,Any}}
    sections::Vector{Section}
end
Report(title::AbstractString; meta...) =
    Report(String(title), Pair{String,Any}[String(k) => v for (k, v) in meta], Section[])

addsection!(r::Report, s::Section) = (push!(r.sections, s); s)
addsection!(r::Report, title::AbstractString) = addsection!(r, Section(title))
addblock!(s::Section, b::Block) = (push!(s.blocks, b); s)
addblock!(s::Section, t::Table) = addblock!(s, TableBlock(t))

"""
    write_report(io, report, fmt)

Write a whole report.  CSV output contains only the tables, each preceded
by a `# section / table` comment line.
"""
function write_report(io::IO, r::Report, f::TextFormat)
    println(io, r.title)
    println(io, repeat('=', length(r.title)))
    for (k, v) in r.meta
        println(io, "  ", k, ": ", auto_format(v))
    end
    for s in r.sections
        println(io)
        println(io, s.title)
        println(io, repeat(f.rule, length(s.title)))
        for b in s.blocks
            _text_block(io, b, f)
        end
    end
    nothing
end

_text_block(io::IO, b::Paragraph, f) = println(io, b.text)
_text_block(io::IO, b::Preformatted, f) = print(io, endswith(b.text, "\n") ? b.text : b.text * "\n")
_text_block(io::IO, b::TableBlock, f) = format_table(io, b.table, f)
function _text_block(io::IO, b::KeyValues, f)
    w = reduce(max, (length(p.first) for p in b.pairs); init=0)
    for (k, v) in b.pairs
        println(io, "  ", rpad(k, w), "  ", auto_format(v))
    end
end

function write_report(io::IO, r::Report, f::MarkdownFormat)
    println(io, "# ", r.title, "\n")
    for (k, v) in r.meta
        println(io, "- **", k, "**: ", auto_format(v))
    end
    for s in r.sections
        println(io, "\n## ", s.title, "\n")
        for b in s.blocks
            _md_block(io, b, f)
        end
    end
    nothing
end

_md_block(io::IO, b::Paragraph, f) = println(io, b.text, "\n")
_md_block(io::IO, b::Preformatted, f) = println(io, "```\n", rstrip(b.text), "\n```\n")
_md_block(io::IO, b::TableBlock, f) = (format_table(io, b.table, f); println(io))
function _md_block(io::IO, b::KeyValues, f)
    for (k, v) in b.pairs
        println(io, "- ", k, ": `", auto_format(v), "`")
    end
    println(io)
end

function write_report(io::IO, r::Report, f::CSVFormat)
    for s in r.sections, b in s.blocks
        b isa TableBlock || continue
        println(io, "# ", s.title, isempty(b.table.title) ? "" : " / " * b.table.title)
        format_table(io, b.table, f)
    end
    nothing
end

function write_report(io::IO, r::Report, f::LaTeXFormat)
    println(io, "\\section*{", _latex_escape(r.title), "}")
    for s in r.sections
        println(io, "\\subsection*{", _latex_escape(s.title), "}")
        for b in s.blocks
            if b isa TableBlock
                format_table(io, b.table, f)
            elseif b isa Paragraph
                println(io, _latex_escape(b.text), "\n")
            elseif b isa KeyValues
                println(io, "\\begin{itemize}")
                for (k, v) in b.pairs
                    println(io, "\\item ", _latex_escape(k), ": ", _latex_escape(auto_format(v)))
                end
                println(io, "\\end{itemize}")
            else
                println(io, "\\begin{verbatim}\n", rstrip(b.text), "\n\\end{verbatim}")
            end
        end
    end
    nothing
end

# Typed literals (a JSONObject, see formats.jl): `["type" => "table",
# "table" => ...]` mixes value types and would call `Base.vect` with a
# signature widened to `Vararg{Any}`, which cannot be compiled ahead into a
# system image.
_block_json(b::Paragraph) = Pair{String,Any}["type" => "paragraph", "text" => b.text]
_block_json(b::Preformatted) = Pair{String,Any}["type" => "preformatted", "text" => b.text]
_block_json(b::TableBlock) = Pair{String,Any}["type" => "table", "table" => table_json(b.table)]
_block_json(b::KeyValues) =
    Pair{String,Any}["type" => "values", "values" => JSONObject([k => _json_cell(v) for (k, v) in b.pairs])]

function report_json(r::Report)
    sections = Any[]
    for s in r.sections
        blocks = Any[_block_json(b) for b in s.blocks]
        push!(sections, Pair{String,Any}["title" => s.title, "blocks" => blocks])
    end
    Pair{String,Any}["title" => r.title, "meta" => JSONObject(r.meta), "sections" => sections]
end

write_report(io::IO, r::Report, f::JSONFormat) = write_json(io, report_json(r); indent=f.indent)

"""
    report_string(report, fmt)

The report as a string.
"""
report_string(r::Report, f::AbstractFormat) = sprint(io -> write_report(io, r, f))
