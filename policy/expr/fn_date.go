package expr

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// Date functions. Sources: template-functions-date.md (dateTimeAdd,
// dateTimeFromEpoch, dateTimeToEpoch, utcNow) and the Azure Policy
// definition-structure docs (utcNow, addDays). Date-times without a time
// zone are taken as UTC. Formats follow .NET's invariant culture.

// policyNowFormat is utcNow()'s default in policy rules. Azure Policy
// documents "yyyy-MM-ddTHH:mm:ss.fffffffZ"; ARM templates use
// "yyyyMMddTHHmmssZ" instead — we follow the policy documentation.
const policyNowFormat = "yyyy-MM-ddTHH:mm:ss.fffffffZ"

// utcNow(format?) returns the evaluation time (Activation.Now) in UTC.
func fnUtcNow(a *Activation, args []value.Value) (value.Value, error) {
	const fn = "utcNow"
	if a == nil || a.Now.IsZero() {
		return value.Value{}, failf(fn, "the evaluation time is not set")
	}
	f := policyNowFormat
	if len(args) > 0 {
		s, err := strArg(fn, args, 0)
		if err != nil {
			return value.Value{}, err
		}
		f = s
	}
	out, err := formatDateTime(fn, a.Now.UTC(), f)
	if err != nil {
		return value.Value{}, err
	}
	return value.StringValue(out), nil
}

// addDays(dateTime, numberOfDays) → "yyyy-MM-ddTHH:mm:ss.FFFFFFFZ" in UTC
// (policy-only function; format as documented).
func fnAddDays(args []value.Value) (value.Value, error) {
	const fn = "addDays"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	t, _, err := parseDateTime(fn, s)
	if err != nil {
		return value.Value{}, err
	}
	n := args[1]
	if !n.IsNumber() {
		return value.Value{}, argTypeError(fn, 1, "a number of days", n)
	}
	var r time.Time
	if n.Kind() == value.Int {
		d := n.Int()
		if d > 3700000 || d < -3700000 {
			return value.Value{}, failf(fn, "%d days is out of the supported date range", d)
		}
		r = t.AddDate(0, 0, int(d))
	} else {
		r, err = addSeconds(fn, t, n.Float()*86400)
		if err != nil {
			return value.Value{}, err
		}
	}
	if err := checkYear(fn, r); err != nil {
		return value.Value{}, err
	}
	out, err := formatDateTime(fn, r.UTC(), "yyyy-MM-ddTHH:mm:ss.FFFFFFFZ")
	if err != nil {
		return value.Value{}, err
	}
	return value.StringValue(out), nil
}

// dateTimeAdd(base, duration, format?) adds an ISO 8601 duration. Years
// count as 365 days and months as 30 days (documented: "P1Y should be
// interpreted as P365D, while P1M should be interpreted as P30D"). Without
// a format the result keeps the base's ISO 8601 shape: 'T' separator,
// the base's fraction digits, and 'Z' or the base's offset.
func fnDateTimeAdd(args []value.Value) (value.Value, error) {
	const fn = "dateTimeAdd"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	t, frac, err := parseDateTime(fn, s)
	if err != nil {
		return value.Value{}, err
	}
	ds, err := strArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	secs, ok := parseISODuration(ds)
	if !ok {
		return value.Value{}, failf(fn, "'%s' is not a valid ISO 8601 duration", ds)
	}
	r, err := addSeconds(fn, t, secs)
	if err != nil {
		return value.Value{}, err
	}
	if len(args) > 2 {
		f, err := strArg(fn, args, 2)
		if err != nil {
			return value.Value{}, err
		}
		out, err := formatDateTime(fn, r, f)
		if err != nil {
			return value.Value{}, err
		}
		return value.StringValue(out), nil
	}
	return value.StringValue(formatISO(r, frac)), nil
}

// dateTimeFromEpoch(epochTime) → "yyyy-MM-ddTHH:mm:ssZ".
func fnDateTimeFromEpoch(args []value.Value) (value.Value, error) {
	const fn = "dateTimeFromEpoch"
	n, err := intArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	if n < -62135596800 || n > 253402300799 {
		return value.Value{}, failf(fn, "epoch time %d is out of the supported date range", n)
	}
	return value.StringValue(time.Unix(n, 0).UTC().Format("2006-01-02T15:04:05Z")), nil
}

// dateTimeToEpoch(dateTime) → whole seconds since 1970-01-01T00:00:00Z.
func fnDateTimeToEpoch(args []value.Value) (value.Value, error) {
	const fn = "dateTimeToEpoch"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	t, _, err := parseDateTime(fn, s)
	if err != nil {
		return value.Value{}, err
	}
	return value.IntValue(t.Unix()), nil
}

func checkYear(fn string, t time.Time) error {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return failf(fn, "the resulting date is outside the years 1 to 9999")
	}
	return nil
}

// addSeconds adds a (possibly fractional, possibly huge) number of seconds.
func addSeconds(fn string, t time.Time, secs float64) (time.Time, error) {
	if math.IsNaN(secs) || math.Abs(secs) > 3.2e11 {
		return time.Time{}, failf(fn, "the duration is out of the supported date range")
	}
	days := math.Trunc(secs / 86400)
	rem := secs - days*86400
	r := t.AddDate(0, 0, int(days)).Add(time.Duration(math.Round(rem * 1e9)))
	if err := checkYear(fn, r); err != nil {
		return time.Time{}, err
	}
	return r, nil
}

// parseISODuration parses [-]P[nY][nM][nW][nD][T[nH][nM][nS]] into
// seconds (Y = 365 days, M = 30 days; fractions allowed).
func parseISODuration(s string) (float64, bool) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	if len(s) < 2 || (s[0] != 'P' && s[0] != 'p') {
		return 0, false
	}
	s = s[1:]
	total := 0.0
	inTime, any, timeAny := false, false, false
	for len(s) > 0 {
		if s[0] == 'T' || s[0] == 't' {
			if inTime {
				return 0, false
			}
			inTime = true
			s = s[1:]
			continue
		}
		j := 0
		for j < len(s) && ('0' <= s[j] && s[j] <= '9' || s[j] == '.' || s[j] == ',') {
			j++
		}
		if j == 0 || j == len(s) {
			return 0, false
		}
		n, err := strconv.ParseFloat(strings.Replace(s[:j], ",", ".", 1), 64)
		if err != nil {
			return 0, false
		}
		var unit float64
		switch u := s[j] | 0x20; {
		case !inTime && u == 'y':
			unit = 365 * 86400
		case !inTime && u == 'm':
			unit = 30 * 86400
		case !inTime && u == 'w':
			unit = 7 * 86400
		case !inTime && u == 'd':
			unit = 86400
		case inTime && u == 'h':
			unit = 3600
		case inTime && u == 'm':
			unit = 60
		case inTime && u == 's':
			unit = 1
		default:
			return 0, false
		}
		total += n * unit
		any = true
		if inTime {
			timeAny = true
		}
		s = s[j+1:]
	}
	if !any || (inTime && !timeAny) || math.IsInf(total, 0) {
		return 0, false
	}
	if neg {
		total = -total
	}
	return total, true
}

// parseDateTime parses the ISO 8601 forms ARM accepts: yyyy-MM-dd,
// yyyy-MM-dd[T| ]HH:mm[:ss[.fffffff]][Z|±HH[:mm]], the compact
// yyyyMMddTHHmmss[Z] (ARM's utcNow() default) and the invariant-culture
// M/d/yyyy[ h:mm[:ss][ AM|PM]]. It returns the number of fraction digits
// the input had (for dateTimeAdd's default output).
func parseDateTime(fn, s string) (time.Time, int, error) {
	t, frac, ok := parseDateTimeOK(strings.TrimSpace(s))
	if !ok {
		return time.Time{}, 0, failf(fn, "the string '%s' is not a valid ISO 8601 date-time", s)
	}
	return t, frac, nil
}

func parseDateTimeOK(s string) (time.Time, int, bool) {
	p := &dtParser{s: s}
	if strings.IndexByte(s, '/') > 0 {
		return p.usDate()
	}
	year, ok1 := p.digits(4)
	compact := p.peek() != '-'
	if !compact {
		p.pos++
	}
	month, ok2 := p.digits(2)
	if !compact && !p.eat('-') {
		return time.Time{}, 0, false
	}
	day, ok3 := p.digits(2)
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, 0, false
	}
	hour, min, sec, nsec, frac := 0, 0, 0, 0, 0
	loc := time.UTC
	if p.pos < len(s) {
		if c := s[p.pos]; c != 'T' && c != 't' && !(c == ' ' && !compact) {
			return time.Time{}, 0, false
		}
		p.pos++
		var ok bool
		if hour, ok = p.digits(2); !ok {
			return time.Time{}, 0, false
		}
		if !compact && !p.eat(':') {
			return time.Time{}, 0, false
		}
		if min, ok = p.digits(2); !ok {
			return time.Time{}, 0, false
		}
		if compact || p.eat(':') {
			if sec, ok = p.digits(2); !ok {
				return time.Time{}, 0, false
			}
			if p.eat('.') || p.eat(',') {
				start := p.pos
				for p.pos < len(s) && '0' <= s[p.pos] && s[p.pos] <= '9' {
					if frac < 9 {
						nsec = nsec*10 + int(s[p.pos]-'0')
						frac++
					}
					p.pos++
				}
				if p.pos == start || p.pos-start > 16 {
					return time.Time{}, 0, false
				}
				frac = p.pos - start
				for k := min9(frac); k < 9; k++ {
					nsec *= 10
				}
			}
		}
		if p.pos < len(s) {
			switch c := s[p.pos]; c {
			case 'Z', 'z':
				p.pos++
			case '+', '-':
				p.pos++
				oh, ok := p.digits(2)
				if !ok {
					return time.Time{}, 0, false
				}
				om := 0
				if p.eat(':') {
					if om, ok = p.digits(2); !ok {
						return time.Time{}, 0, false
					}
				} else if p.pos < len(s) {
					if om, ok = p.digits(2); !ok {
						return time.Time{}, 0, false
					}
				}
				if oh > 14 || om > 59 {
					return time.Time{}, 0, false
				}
				off := oh*3600 + om*60
				if c == '-' {
					off = -off
				}
				if off != 0 {
					loc = time.FixedZone("", off)
				}
			default:
				return time.Time{}, 0, false
			}
		}
		if p.pos != len(s) {
			return time.Time{}, 0, false
		}
	}
	return makeTime(year, month, day, hour, min, sec, nsec, loc, frac)
}

func min9(n int) int {
	if n > 9 {
		return 9
	}
	return n
}

func makeTime(year, month, day, hour, min, sec, nsec int, loc *time.Location, frac int) (time.Time, int, bool) {
	if year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc)
	if t.Day() != day {
		return time.Time{}, 0, false
	}
	return t, frac, true
}

type dtParser struct {
	s   string
	pos int
}

func (p *dtParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *dtParser) eat(c byte) bool {
	if p.peek() == c && p.pos < len(p.s) {
		p.pos++
		return true
	}
	return false
}

// digits reads exactly n decimal digits.
func (p *dtParser) digits(n int) (int, bool) {
	if p.pos+n > len(p.s) {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := p.s[p.pos+i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.pos += n
	return v, true
}

// upTo reads 1 to n decimal digits.
func (p *dtParser) upTo(n int) (int, bool) {
	start := p.pos
	v := 0
	for p.pos < len(p.s) && p.pos-start < n && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
		v = v*10 + int(p.s[p.pos]-'0')
		p.pos++
	}
	return v, p.pos > start
}

// usDate parses the invariant culture's M/d/yyyy[ h:mm[:ss][ AM|PM]].
func (p *dtParser) usDate() (time.Time, int, bool) {
	month, ok1 := p.upTo(2)
	ok2 := p.eat('/')
	day, ok3 := p.upTo(2)
	ok4 := p.eat('/')
	year, ok5 := p.digits(4)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, 0, false
	}
	hour, min, sec := 0, 0, 0
	if p.eat(' ') {
		var ok bool
		if hour, ok = p.upTo(2); !ok || !p.eat(':') {
			return time.Time{}, 0, false
		}
		if min, ok = p.digits(2); !ok {
			return time.Time{}, 0, false
		}
		if p.eat(':') {
			if sec, ok = p.digits(2); !ok {
				return time.Time{}, 0, false
			}
		}
		if p.eat(' ') {
			switch strings.ToUpper(p.s[p.pos:]) {
			case "AM":
				if hour == 12 {
					hour = 0
				}
			case "PM":
				if hour < 12 {
					hour += 12
				}
			default:
				return time.Time{}, 0, false
			}
			if hour > 23 {
				return time.Time{}, 0, false
			}
			p.pos = len(p.s)
		}
	}
	if p.pos != len(p.s) {
		return time.Time{}, 0, false
	}
	return makeTime(year, month, day, hour, min, sec, 0, time.UTC, 0)
}

// formatISO writes yyyy-MM-ddTHH:mm:ss[.fff…](Z|±hh:mm) with at least
// frac fraction digits (more when the value needs them).
func formatISO(t time.Time, frac int) string {
	b := make([]byte, 0, 40)
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	ns := t.Nanosecond()
	if ns != 0 || frac > 0 {
		digits := strconv.Itoa(ns + 1e9)[1:] // 9 digits, zero-padded
		n := 9
		for n > 0 && digits[n-1] == '0' {
			n--
		}
		if n < min9(frac) {
			n = min9(frac)
		}
		if n > 0 {
			b = append(b, '.')
			b = append(b, digits[:n]...)
		}
	}
	return string(appendZone(b, t, true))
}

// appendZone appends "Z" for UTC (when z is set) or ±hh:mm.
func appendZone(b []byte, t time.Time, z bool) []byte {
	_, off := t.Zone()
	if off == 0 && z {
		return append(b, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = append2(b, off/3600)
	b = append(b, ':')
	return append2(b, off%3600/60)
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10%10), byte('0'+n%10))
}

var (
	dayNames   = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// standardDateFormats maps .NET standard date-time format specifiers to
// their invariant-culture custom equivalents; utc marks the ones that
// convert the value to UTC first.
var standardDateFormats = map[byte]struct {
	layout string
	utc    bool
}{
	'd': {"MM/dd/yyyy", false},
	'D': {"dddd, dd MMMM yyyy", false},
	'f': {"dddd, dd MMMM yyyy HH:mm", false},
	'F': {"dddd, dd MMMM yyyy HH:mm:ss", false},
	'g': {"MM/dd/yyyy HH:mm", false},
	'G': {"MM/dd/yyyy HH:mm:ss", false},
	'm': {"MMMM dd", false},
	'M': {"MMMM dd", false},
	'o': {"yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", false},
	'O': {"yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", false},
	'r': {"ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", true},
	'R': {"ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", true},
	's': {"yyyy'-'MM'-'dd'T'HH':'mm':'ss", false},
	't': {"HH:mm", false},
	'T': {"HH:mm:ss", false},
	'u': {"yyyy'-'MM'-'dd HH':'mm':'ss'Z'", true},
	'U': {"dddd, dd MMMM yyyy HH:mm:ss", true},
	'y': {"yyyy MMMM", false},
	'Y': {"yyyy MMMM", false},
}

// formatDateTime formats t with a .NET standard or custom date-time format
// string (invariant culture).
func formatDateTime(fn string, t time.Time, f string) (string, error) {
	if f == "" {
		f = "G"
	}
	if len(f) == 1 {
		sf, ok := standardDateFormats[f[0]]
		if !ok {
			return "", failf(fn, "unrecognised standard format specifier '%s'", f)
		}
		if sf.utc {
			t = t.UTC()
		}
		f = sf.layout
	}
	if len(f) > 1024 {
		return "", failf(fn, "the format string is longer than 1024 characters")
	}
	b := make([]byte, 0, len(f)+16)
	for i := 0; i < len(f); {
		c := f[i]
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		switch c {
		case 'd':
			switch n {
			case 1:
				b = strconv.AppendInt(b, int64(t.Day()), 10)
			case 2:
				b = append2(b, t.Day())
			case 3:
				b = append(b, dayNames[t.Weekday()][:3]...)
			default:
				b = append(b, dayNames[t.Weekday()]...)
			}
		case 'f', 'F':
			if n > 7 {
				return "", failf(fn, "invalid format string '%s': at most 7 '%c' characters", f, c)
			}
			digits := strconv.Itoa(t.Nanosecond() + 1e9)[1 : 1+n]
			if c == 'F' {
				digits = strings.TrimRight(digits, "0")
				if digits == "" && len(b) > 0 && b[len(b)-1] == '.' {
					b = b[:len(b)-1]
				}
			}
			b = append(b, digits...)
		case 'g':
			b = append(b, "A.D."...)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			if n == 1 {
				b = strconv.AppendInt(b, int64(h), 10)
			} else {
				b = append2(b, h)
			}
		case 'H':
			if n == 1 {
				b = strconv.AppendInt(b, int64(t.Hour()), 10)
			} else {
				b = append2(b, t.Hour())
			}
		case 'K':
			for k := 0; k < n; k++ {
				b = appendZone(b, t, true)
			}
		case 'm':
			if n == 1 {
				b = strconv.AppendInt(b, int64(t.Minute()), 10)
			} else {
				b = append2(b, t.Minute())
			}
		case 'M':
			switch n {
			case 1:
				b = strconv.AppendInt(b, int64(t.Month()), 10)
			case 2:
				b = append2(b, int(t.Month()))
			case 3:
				b = append(b, monthNames[t.Month()-1][:3]...)
			default:
				b = append(b, monthNames[t.Month()-1]...)
			}
		case 's':
			if n == 1 {
				b = strconv.AppendInt(b, int64(t.Second()), 10)
			} else {
				b = append2(b, t.Second())
			}
		case 't':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			if n == 1 {
				ampm = ampm[:1]
			}
			b = append(b, ampm...)
		case 'y':
			y := t.Year()
			switch {
			case n == 1:
				b = strconv.AppendInt(b, int64(y%100), 10)
			case n == 2:
				b = append2(b, y%100)
			default:
				s := strconv.Itoa(y)
				for k := len(s); k < n; k++ {
					b = append(b, '0')
				}
				b = append(b, s...)
			}
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			b = append(b, sign)
			switch n {
			case 1:
				b = strconv.AppendInt(b, int64(off/3600), 10)
			case 2:
				b = append2(b, off/3600)
			default:
				b = append2(b, off/3600)
				b = append(b, ':')
				b = append2(b, off%3600/60)
			}
		case '\'', '"':
			j := strings.IndexByte(f[i+1:], c)
			if j < 0 {
				return "", failf(fn, "invalid format string '%s': unterminated quoted text", f)
			}
			b = append(b, f[i+1:i+1+j]...)
			n = j + 2
		case '\\':
			if i+1 >= len(f) {
				return "", failf(fn, "invalid format string '%s': it ends with '\\'", f)
			}
			b = append(b, f[i+1])
			n = 2
		case '%':
			if i+1 >= len(f) || f[i+1] == '%' {
				return "", failf(fn, "invalid format string '%s'", f)
			}
			n = 1
		default:
			b = append(b, f[i:i+n]...)
		}
		i += n
	}
	return string(b), nil
}
