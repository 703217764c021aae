# Decimal formatting for any real type.  Values are converted to BigFloat
# and rounded to an integer mantissa with exact integer arithmetic, so a
# Float32, a Float64 and a BigFloat holding the same value print the same
# digits, and no C printf (which cannot take a runtime precision in Julia
# 1.5's Printf, nor a BigFloat everywhere) is involved.

_special(x::Real) = isnan(x) ? "nan" : x > 0 ? "inf" : "-inf"

# (negative, mantissa digits of length n, decimal exponent e) with
# |x| ≈ d₁.d₂…dₙ × 10^e.
function _sigdigits(x::Real, n::Int)
    bx = BigFloat(x)
    neg = signbit(bx)
    ax = abs(bx)
    e = floor(Int, log10(ax))
    m = round(BigInt, ax * BigFloat(10)^(n - 1 - e))
    if m >= big(10)^n
        e += 1
        m = round(BigInt, ax * BigFloat(10)^(n - 1 - e))
    elseif m < big(10)^(n - 1)
        e -= 1
        m = round(BigInt, ax * BigFloat(10)^(n - 1 - e))
    end
    neg, string(m), e
end

"""
    format_sig(x, n=4; sci_above=6, sci_below=-4)

`x` with `n` significant digits, in fixed notation for decimal exponents
in [sci_below, sci_above) and scientific notation otherwise.  Trailing
zeros are kept: they are significant.
"""
function format_sig(x::Real, n::Integer=4; sci_above::Integer=6, sci_below::Integer=-4)
    isfinite(x) || return _special(x)
    iszero(x) && return n > 1 ? "0." * repeat('0', n - 1) : "0"
    neg, d, e = _sigdigits(x, Int(n))
    sign = neg ? "-" : ""
    if e >= sci_above || e < sci_below
        return string(sign, format_sci_digits(d, e))
    end
    if e < 0
        return string(sign, "0.", repeat('0', -e - 1), d)
    elseif e + 1 >= length(d)
        return string(sign, d, repeat('0', e + 1 - length(d)))
    end
    string(sign, d[1:(e + 1)], ".", d[(e + 2):end])
end

function format_sci_digits(d::AbstractString, e::Integer)
    mant = length(d) > 1 ? string(d[1], ".", d[2:end]) : string(d)
    string(mant, "e", e < 0 ? "-" : "+", lpad(string(abs(e)), 2, '0'))
end

"""
    format_sci(x, n=4)

Always scientific: `d.ddde±XX`.
"""
function format_sci(x::Real, n::Integer=4)
    isfinite(x) || return _special(x)
    iszero(x) && return format_sci_digits(repeat('0', n), 0)
    neg, d, e = _sigdigits(x, Int(n))
    string(neg ? "-" : "", format_sci_digits(d, e))
end

"""
    format_fixed(x, decimals)

`x` rounded to `decimals` places (negative: to tens, hundreds, ...).
A result that rounds to zero prints without a minus sign.
"""
function format_fixed(x::Real, decimals::Integer)
    isfinite(x) || return _special(x)
    bx = BigFloat(x)
    if decimals < 0
        q = big(10)^(-decimals)
        m = round(BigInt, bx / q) * q
        return string(m)
    end
    m = round(BigInt, bx * big(10)^decimals)
    neg = m < 0
    s = string(abs(m))
    decimals == 0 && return (neg ? "-" : "") * s
    s = lpad(s, decimals + 1, '0')
    string(neg ? "-" : "", s[1:(end - decimals)], ".", s[(end - decimals + 1):end])
end

"""
    pdg_round(value, error) -> (value_string, error_string)

The Particle Data Group rule: look at the three leading digits of the
error; 100–354 keeps two significant digits, 355–949 one, 950–999 rounds
up to 1000 and keeps two.  The value is rounded to the same decimal place.
"""
function pdg_round(value::Real, err::Real)
    (isfinite(err) && err > 0) || return (format_sig(value, 6), isnan(err) ? "nan" : format_sig(err, 2))
    isfinite(value) || return (_special(value), format_sig(err, 2))
    _, d, e = _sigdigits(err, 3)
    three = parse(Int, d)
    if three <= 354
        nsig = 2
    elseif three <= 949
        nsig = 1
    else
        nsig = 2
        e += 1
    end
    place = e - nsig + 1          # power of ten of the last kept digit
    dec = -place
    es = three >= 950 ? format_fixed(BigFloat(10)^e, dec) : format_fixed(err, dec)
    (format_fixed(value, dec), es)
end

"""
    format_pm(value, error; ascii=false)

"value ± error" with [`pdg_round`](@ref).
"""
function format_pm(value::Real, err::Real; ascii::Bool=false)
    v, e = pdg_round(value, err)
    string(v, ascii ? " +- " : " ± ", e)
end
