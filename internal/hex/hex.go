// Package hex decodes the hexadecimal digits of HTTP's wire formats
// (percent-encoding, chunk sizes) one byte at a time, without allocating.
package hex

// Digit returns the value of the hexadecimal digit c, either case, and
// whether c is one.
func Digit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
