# A small JSON writer and reader.  Writing goes through `json_value`, so a
# type can choose its JSON representation by adding a method; reading
# gives Dict{String,Any}, Vector{Any}, Int, Float64, String, Bool and
# `JSONNull()`.

"""
    JSONNull()

The value a JSON `null` parses to (distinct from `nothing`, which is the
reader's "no value here").
"""
struct JSONNull end

_json_escape(io::IO, s::AbstractString) = begin
    print(io, '"')
    for c in s
        if c == '"'
            print(io, "\\\"")
        elseif c == '\\'
            print(io, "\\\\")
        elseif c == '\n'
            print(io, "\\n")
        elseif c == '\t'
            print(io, "\\t")
        elseif c == '\r'
            print(io, "\\r")
        elseif c < ' '
            print(io, "\\u", string(UInt16(c), base=16, pad=4))
        else
            print(io, c)
        end
    end
    print(io, '"')
end

# Numbers: shortest round-trip text for the binary types, 17 significant
# digits for wider ones; non-finite values have no JSON form.
_json_number(x::Integer) = string(x)
_json_number(x::Union{Float32,Float64}) = isfinite(x) ? string(x) : "null"
_json_number(x::AbstractFloat) = isfinite(x) ? format_sig(x, 17; sci_above=17, sci_below=-5) : "null"
_json_number(x::Rational) = _json_number(float(x))
_json_number(x::Real) = _json_number(float(x))

"""
    write_json(io, x; indent=2)

Write `x` as JSON.  Dict keys are sorted so output is reproducible;
NamedTuples and vectors of pairs keep their order.
"""
function write_json(io::IO, x; indent::Integer=2)
    _write_json(io, x, Int(indent), 0)
    println(io)
    nothing
end

json_string(x; indent::Integer=2) = sprint(io -> write_json(io, x; indent=indent))

_newline(io, indent, level) = indent > 0 && print(io, '\n', repeat(' ', indent * level))

_write_json(io::IO, x::Real, indent, level) = print(io, _json_number(x))
_write_json(io::IO, x::Bool, indent, level) = print(io, x ? "true" : "false")
_write_json(io::IO, ::Union{Nothing,JSONNull,Missing}, indent, level) = print(io, "null")
_write_json(io::IO, x::AbstractString, indent, level) = _json_escape(io, x)
_write_json(io::IO, x::Symbol, indent, level) = _json_escape(io, String(x))
_write_json(io::IO, x, indent, level) = _json_escape(io, string(x))

function _write_pairs(io::IO, ps, indent, level)
    if isempty(ps)
        print(io, "{}")
        return
    end
    print(io, '{')
    first = true
    for (k, v) in ps
        first || print(io, ',')
        first = false
        _newline(io, indent, level + 1)
        _json_escape(io, string(k))
        print(io, indent > 0 ? ": " : ":")
        _write_json(io, v, indent, level + 1)
    end
    _newline(io, indent, level)
    print(io, '}')
end

_write_json(io::IO, x::AbstractDict, indent, level) =
    _write_pairs(io, sort!(collect(x); by=p -> string(p.first)), indent, level)
_write_json(io::IO, x::NamedTuple, indent, level) = _write_pairs(io, pairs(x), indent, level)
_write_json(io::IO, x::AbstractVector{<:Pair}, indent, level) = _write_pairs(io, x, indent, level)

function _write_json(io::IO, x::Union{AbstractVector,Tuple}, indent, level)
    if isempty(x)
        print(io, "[]")
        return
    end
    # Short arrays of plain values stay on one line: they are data, not structure.
    flat = all(v -> v isa Union{Real,AbstractString,Symbol}, x) && length(x) <= 16
    print(io, '[')
    for (i, v) in enumerate(x)
        i > 1 && print(io, flat && indent > 0 ? ", " : ",")
        flat || _newline(io, indent, level + 1)
        _write_json(io, v, indent, level + 1)
    end
    flat || _newline(io, indent, level)
    print(io, ']')
end

function _write_json(io::IO, x::AbstractMatrix, indent, level)
    _write_json(io, [x[i, :] for i in 1:size(x, 1)], indent, level)
end

# ---------------------------------------------------------------------------

mutable struct _Reader
    s::String
    i::Int
end

_peek(r::_Reader) = r.i <= ncodeunits(r.s) ? r.s[r.i] : '\0'
function _skip!(r::_Reader)
    while r.i <= ncodeunits(r.s) && r.s[r.i] in (' ', '\n', '\t', '\r')
        r.i = nextind(r.s, r.i)
    end
end
function _expect!(r::_Reader, c::Char)
    _skip!(r)
    _peek(r) == c || throw(ArgumentError("JSON: expected '$c' at $(r.i), found '$(_peek(r))'"))
    r.i = nextind(r.s, r.i)
end

"""
    parse_json(str)

Parse a JSON document.
"""
function parse_json(s::AbstractString)
    r = _Reader(String(s), 1)
    v = _read_value(r)
    _skip!(r)
    r.i > ncodeunits(r.s) || throw(ArgumentError("JSON: trailing characters at $(r.i)"))
    v
end

function _read_value(r::_Reader)
    _skip!(r)
    c = _peek(r)
    c == '{' && return _read_object(r)
    c == '[' && return _read_array(r)
    c == '"' && return _read_string(r)
    if startswith(SubString(r.s, r.i), "true")
        r.i += 4
        return true
    elseif startswith(SubString(r.s, r.i), "false")
        r.i += 5
        return false
    elseif startswith(SubString(r.s, r.i), "null")
        r.i += 4
        return JSONNull()
    end
    _read_number(r)
end

function _read_object(r::_Reader)
    _expect!(r, '{')
    d = Dict{String,Any}()
    _skip!(r)
    if _peek(r) == '}'
        r.i += 1
        return d
    end
    while true
        _skip!(r)
        k = _read_string(r)
        _expect!(r, ':')
        d[k] = _read_value(r)
        _skip!(r)
        c = _peek(r)
        r.i += 1
        c == '}' && return d
        c == ',' || throw(ArgumentError("JSON: expected ',' or '}' at $(r.i - 1)"))
    end
end

function _read_array(r::_Reader)
    _expect!(r, '[')
    a = Any[]
    _skip!(r)
    if _peek(r) == ']'
        r.i += 1
        return a
    end
    while true
        push!(a, _read_value(r))
        _skip!(r)
        c = _peek(r)
        r.i += 1
        c == ']' && return a
        c == ',' || throw(ArgumentError("JSON: expected ',' or ']' at $(r.i - 1)"))
    end
end

function _read_string(r::_Reader)
    _peek(r) == '"' || throw(ArgumentError("JSON: expected a string at $(r.i)"))
    r.i += 1
    io = IOBuffer()
    while true
        r.i <= ncodeunits(r.s) || throw(ArgumentError("JSON: unterminated string"))
        c = r.s[r.i]
        r.i = nextind(r.s, r.i)
        c == '"' && break
        if c == '\\'
            e = r.s[r.i]
            r.i += 1
            if e == 'n'
                print(io, '\n')
            elseif e == 't'
                print(io, '\t')
            elseif e == 'r'
                print(io, '\r')
            elseif e == 'u'
                print(io, Char(parse(UInt16, r.s[r.i:(r.i + 3)]; base=16)))
                r.i += 4
            else
                print(io, e)
            end
        else
            print(io, c)
        end
    end
    String(take!(io))
end

function _read_number(r::_Reader)
    start = r.i
    while r.i <= ncodeunits(r.s) && (isdigit(r.s[r.i]) || r.s[r.i] in ('-', '+', '.', 'e', 'E'))
        r.i += 1
    end
    t = r.s[start:(r.i - 1)]
    isempty(t) && throw(ArgumentError("JSON: unexpected '$(_peek(r))' at $start"))
    any(c -> c in ('.', 'e', 'E'), t) ? parse(Float64, t) : parse(Int, t)
end
