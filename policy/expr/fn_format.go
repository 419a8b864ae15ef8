package expr

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlgov/mlgov/policy/value"
)

// format(formatString, arg1, ...) implements .NET composite formatting
// (System.String.Format, invariant culture), as documented:
// placeholders {index[,alignment][:formatString]}, "{{" and "}}" escapes.
func fnFormat(args []value.Value) (value.Value, error) {
	const fn = "format"
	f, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	vals := args[1:]
	b := make([]byte, 0, len(f)+16*len(vals))
	for i := 0; i < len(f); {
		c := f[i]
		switch c {
		case '{':
			if i+1 < len(f) && f[i+1] == '{' {
				b = append(b, '{')
				i += 2
				continue
			}
			j := i + 1
			start := j
			idx := 0
			for j < len(f) && '0' <= f[j] && f[j] <= '9' {
				idx = idx*10 + int(f[j]-'0')
				if idx >= maxFormatWidth {
					return value.Value{}, failf(fn, "invalid placeholder at position %d: the index is too large", i)
				}
				j++
			}
			if j == start {
				if j >= len(f) {
					return value.Value{}, failf(fn, "unmatched opening brace '{' at position %d", i)
				}
				return value.Value{}, failf(fn, "invalid placeholder at position %d: expected '{index}'", i)
			}
			j = skipSpaces(f, j)
			align := 0
			if j < len(f) && f[j] == ',' {
				j = skipSpaces(f, j+1)
				neg := false
				if j < len(f) && f[j] == '-' {
					neg = true
					j++
				}
				as := j
				for j < len(f) && '0' <= f[j] && f[j] <= '9' {
					align = align*10 + int(f[j]-'0')
					if align >= maxFormatWidth {
						return value.Value{}, failf(fn, "alignment in the placeholder at position %d exceeds maximum allowed (%d)", i, maxFormatWidth)
					}
					j++
				}
				if j == as {
					if j < len(f) && (f[j] == '}' || f[j] == ':') && !neg {
						return value.Value{}, failf(fn, "empty alignment value in the placeholder at position %d", i)
					}
					return value.Value{}, failf(fn, "invalid alignment in the placeholder at position %d", i)
				}
				if neg {
					align = -align
				}
				j = skipSpaces(f, j)
			}
			spec := ""
			if j < len(f) && f[j] == ':' {
				j++
				ss := j
				for j < len(f) && f[j] != '}' {
					if f[j] == '{' {
						return value.Value{}, failf(fn, "invalid format specifier in the placeholder at position %d", i)
					}
					j++
				}
				spec = f[ss:j]
			}
			if j >= len(f) {
				return value.Value{}, failf(fn, "unmatched opening brace '{' at position %d", i)
			}
			if f[j] != '}' {
				return value.Value{}, failf(fn, "invalid alignment in the placeholder at position %d", i)
			}
			if idx >= len(vals) {
				return value.Value{}, failf(fn, "placeholder {%d} references argument index %d, but only %d argument(s) were supplied", idx, idx, len(vals))
			}
			text, err := formatArg(fn, vals[idx], spec)
			if err != nil {
				return value.Value{}, err
			}
			b, err = appendAligned(fn, b, text, align)
			if err != nil {
				return value.Value{}, err
			}
			i = j + 1
		case '}':
			if i+1 < len(f) && f[i+1] == '}' {
				b = append(b, '}')
				i += 2
				continue
			}
			return value.Value{}, failf(fn, "unmatched closing brace '}' at position %d", i)
		default:
			b = append(b, c)
			i++
		}
		if len(b) > 4*maxStringLength {
			return value.Value{}, failf(fn, "the result would be longer than the limit of %d characters", maxStringLength)
		}
	}
	s := string(b)
	if err := checkString(fn, s); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(s), nil
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func appendAligned(fn string, b []byte, text string, align int) ([]byte, error) {
	width := align
	if width < 0 {
		width = -width
	}
	if width > maxStringLength {
		return nil, failf(fn, "alignment %d exceeds the string limit of %d characters", align, maxStringLength)
	}
	pad := width - utf16Len(text)
	if pad <= 0 {
		return append(b, text...), nil
	}
	if align < 0 {
		b = append(b, text...)
	}
	for k := 0; k < pad; k++ {
		b = append(b, ' ')
	}
	if align > 0 {
		b = append(b, text...)
	}
	return b, nil
}

// formatArg renders one argument the way .NET's String.Format would:
// numbers honour the format specifier, booleans are "True"/"False",
// null is empty, strings ignore the specifier, arrays and objects are
// written as JSON.
func formatArg(fn string, v value.Value, spec string) (string, error) {
	switch kindOf(v) {
	case value.String:
		return v.Str(), nil
	case value.Null:
		return "", nil
	case value.Bool:
		if v.Bool() {
			return "True", nil
		}
		return "False", nil
	case value.Int:
		if spec == "" {
			return strconv.FormatInt(v.Int(), 10), nil
		}
		return formatNumber(fn, v, spec)
	case value.Float:
		if spec == "" {
			return dotnetDouble(v.Float()), nil
		}
		return formatNumber(fn, v, spec)
	}
	return toJSONString(fn, v)
}

// dotnetDouble is .NET Core's default double.ToString(): the shortest
// round-trip digits, in scientific notation ("1E+20", "1E-05") when the
// exponent is below -4 or at least 15.
func dotnetDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "∞"
	case math.IsInf(f, -1):
		return "-∞"
	case f == 0:
		return "0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±xx
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	if exp >= -4 && exp < 15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	es := strconv.Itoa(exp)
	if len(es) < 2 {
		es = "0" + es
	}
	return strings.ToUpper(mant) + "E" + sign + es
}

// formatNumber applies a .NET numeric format string (standard: C, D, E,
// F, G, N, P, R, X with an optional precision; otherwise a custom format
// of 0 # . , % and literals) to an integer or a float.
func formatNumber(fn string, v value.Value, spec string) (string, error) {
	c := spec[0]
	isStd := (c|0x20) >= 'a' && (c|0x20) <= 'z'
	prec := -1
	if isStd && len(spec) > 1 {
		p, err := strconv.Atoi(spec[1:])
		if err != nil || p < 0 {
			isStd = false
		} else {
			prec = p
		}
	}
	if !isStd {
		return customNumber(fn, v, spec)
	}
	if prec > 100 {
		return "", failf(fn, "the precision %d in the format specifier '%s' is too large", prec, spec)
	}
	isInt := v.Kind() == value.Int
	f := v.Float()
	switch c {
	case 'D', 'd':
		if !isInt {
			return "", failf(fn, "invalid numeric format specifier '%s' for a floating-point number", spec)
		}
		n := v.Int()
		s := strconv.FormatUint(uint64(abs64(n)), 10)
		if n == math.MinInt64 {
			s = "9223372036854775808"
		}
		for len(s) < prec {
			s = "0" + s
		}
		if n < 0 {
			s = "-" + s
		}
		return s, nil
	case 'X', 'x':
		if !isInt {
			return "", failf(fn, "invalid numeric format specifier '%s' for a floating-point number", spec)
		}
		s := strconv.FormatUint(uint64(v.Int()), 16)
		if c == 'X' {
			s = strings.ToUpper(s)
		}
		for len(s) < prec {
			s = "0" + s
		}
		return s, nil
	case 'F', 'f', 'N', 'n':
		if prec < 0 {
			prec = 2
		}
		s := fixedDigits(v, prec)
		if c == 'N' || c == 'n' {
			s = groupThousands(s)
		}
		return s, nil
	case 'P', 'p':
		if prec < 0 {
			prec = 2
		}
		var pv value.Value
		if isInt && v.Int() > -(1<<50) && v.Int() < 1<<50 {
			pv = value.IntValue(v.Int() * 100)
		} else {
			pv = value.FloatValue(f * 100)
		}
		return groupThousands(fixedDigits(pv, prec)) + " %", nil
	case 'C', 'c':
		if prec < 0 {
			prec = 2
		}
		s := groupThousands(fixedDigits(v, prec))
		if strings.HasPrefix(s, "-") {
			return "(¤" + s[1:] + ")", nil
		}
		return "¤" + s, nil
	case 'E', 'e':
		if prec < 0 {
			prec = 6
		}
		s := strconv.FormatFloat(f, 'e', prec, 64)
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		digits := exp[1:]
		for len(digits) < 3 {
			digits = "0" + digits
		}
		return mant + string(c) + string(sign) + digits, nil
	case 'G', 'g', 'R', 'r':
		if isInt {
			return strconv.FormatInt(v.Int(), 10), nil
		}
		if prec > 0 && (c == 'G' || c == 'g') {
			s := strconv.FormatFloat(f, 'g', prec, 64)
			if mant, exp, ok := strings.Cut(s, "e"); ok {
				e := 'E'
				if c == 'g' {
					e = 'e'
				}
				return mant + string(e) + exp, nil
			}
			return s, nil
		}
		return dotnetDouble(f), nil
	}
	return "", failf(fn, "invalid numeric format specifier '%s'", spec)
}

// fixedDigits formats v with prec decimals, rounding half away from zero
// on the exact value (as .NET Core does).
func fixedDigits(v value.Value, prec int) string {
	if v.Kind() == value.Int {
		s := strconv.FormatInt(v.Int(), 10)
		if prec > 0 {
			s += "." + strings.Repeat("0", prec)
		}
		return s
	}
	f := v.Float()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dotnetDouble(f)
	}
	return strconv.FormatFloat(roundAwayFloat(f, prec), 'f', prec, 64)
}

// roundAwayFloat nudges f so that strconv's round-half-even formatting of
// an exact tie at prec decimals rounds away from zero instead.
func roundAwayFloat(f float64, prec int) float64 {
	if math.Abs(f) > 1e300 || f == math.Trunc(f) {
		return f
	}
	exact := new(big.Float).SetFloat64(f).Text('f', 1100)
	dot := strings.IndexByte(exact, '.')
	if dot < 0 || dot+prec+1 >= len(exact) {
		return f
	}
	rest := strings.TrimRight(exact[dot+prec+1:], "0")
	if rest != "5" {
		return f
	}
	return math.Nextafter(f, math.Copysign(math.Inf(1), f))
}

// groupThousands inserts ',' every three integer digits of a decimal string.
func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i := 0; i < len(intPart); i++ {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(intPart[i])
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// customNumber implements the common part of .NET custom numeric format
// strings: '0' and '#' digit placeholders, one '.', ',' grouping, '%'
// (multiply by 100), quoted and escaped literals; only the first section
// of a ';'-separated format is used (and the second for negatives).
func customNumber(fn string, v value.Value, spec string) (string, error) {
	sections := splitSections(spec)
	f := v.Float()
	sec := sections[0]
	neg := f < 0
	if neg && len(sections) > 1 && sections[1] != "" {
		sec = sections[1]
		f = -f
		neg = false
	}
	// Scan the section.
	intZeros, fracZeros, fracHashes := 0, 0, 0
	seenDot, group, percent := false, false, 0
	firstDigit, firstIntZero := -1, -1
	for i := 0; i < len(sec); i++ {
		switch sec[i] {
		case '0', '#':
			if firstDigit < 0 {
				firstDigit = i
			}
			switch {
			case seenDot && sec[i] == '0':
				fracZeros += fracHashes + 1
				fracHashes = 0
			case seenDot:
				fracHashes++
			case sec[i] == '0' && firstIntZero < 0:
				firstIntZero = i
				intZeros = 1
			case firstIntZero >= 0:
				intZeros++
			}
		case '.':
			seenDot = true
		case ',':
			if !seenDot && firstDigit >= 0 && i+1 < len(sec) && (sec[i+1] == '0' || sec[i+1] == '#') {
				group = true
			}
		case '%':
			percent++
		case '\\':
			i++
		case '\'', '"':
			j := strings.IndexByte(sec[i+1:], sec[i])
			if j < 0 {
				return "", failf(fn, "invalid format specifier '%s': unterminated quoted text", spec)
			}
			i += j + 1
		}
	}
	if firstDigit < 0 {
		// No digit placeholders: the format is all literal text.
		return customLiterals(sec, ""), nil
	}
	for k := 0; k < percent; k++ {
		f *= 100
	}
	decimals := fracZeros + fracHashes
	if decimals > 100 || intZeros > 100 {
		return "", failf(fn, "the format specifier '%s' is too long", spec)
	}
	s := strconv.FormatFloat(roundAwayFloat(math.Abs(f), decimals), 'f', decimals, 64)
	if v.Kind() == value.Int && percent == 0 {
		s = strconv.FormatUint(uint64(abs64(v.Int())), 10)
		if decimals > 0 {
			s += "." + strings.Repeat("0", decimals)
		}
	}
	ip, fp, _ := strings.Cut(s, ".")
	// Trim optional fraction digits.
	for len(fp) > fracZeros && fp[len(fp)-1] == '0' {
		fp = fp[:len(fp)-1]
	}
	ip = strings.TrimLeft(ip, "0")
	for len(ip) < intZeros {
		ip = "0" + ip
	}
	if group {
		ip = groupThousands(ip)
	}
	num := ip
	if fp != "" {
		num += "." + fp
	}
	if neg && strings.Trim(num, "0.,") != "" {
		num = "-" + num
	}
	return customLiterals(sec, num), nil
}

func splitSections(spec string) []string {
	var out []string
	start := 0
	for i := 0; i < len(spec); i++ {
		switch spec[i] {
		case '\\':
			i++
		case '\'', '"':
			if j := strings.IndexByte(spec[i+1:], spec[i]); j >= 0 {
				i += j + 1
			}
		case ';':
			out = append(out, spec[start:i])
			start = i + 1
		}
	}
	return append(out, spec[start:])
}

// customLiterals writes the literal parts of a custom numeric format,
// replacing the run of digit placeholders with num.
func customLiterals(sec, num string) string {
	var b strings.Builder
	placed := false
	for i := 0; i < len(sec); i++ {
		c := sec[i]
		switch c {
		case '0', '#', '.', ',':
			if !placed {
				b.WriteString(num)
				placed = true
			}
		case '\\':
			if i+1 < len(sec) {
				i++
				b.WriteByte(sec[i])
			}
		case '\'', '"':
			j := strings.IndexByte(sec[i+1:], c)
			b.WriteString(sec[i+1 : i+1+j])
			i += j + 1
		default:
			if c >= utf8.RuneSelf {
				_, size := utf8.DecodeRuneInString(sec[i:])
				b.WriteString(sec[i : i+size])
				i += size - 1
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}
