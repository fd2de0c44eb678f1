package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/httproute/httproute/internal/hex"
)

// How a response body is delimited.
const (
	bodyNone = iota
	bodyLength
	bodyChunked
	bodyClose
)

// States of a chunked body.
const (
	chunkSize    = iota // before a chunk-size line
	chunkData           // inside a chunk's data
	chunkEnd            // before the CRLF after a chunk's data
	chunkTrailer        // before the trailer section
)

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

// errBodyClosed is returned by reads after Close.
var errBodyClosed = errors.New("h1: read on closed response body")

// body reads a response body from the connection that carried it, and
// gives the connection back to the pool when the body ends where it
// should, or closes it. Read and Close must not be called concurrently.
type body struct {
	t    *Transport
	c    *conn
	res  *http.Response
	mode int
	// left is the rest of the body (bodyLength) or of the current chunk.
	left  int64
	state int
	err   error
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	switch b.mode {
	case bodyLength:
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err := b.c.br.Read(p)
		b.left -= int64(n)
		if b.left == 0 {
			b.end(nil)
			return n, io.EOF
		}
		if err != nil {
			return n, b.fail(err)
		}
		return n, nil
	case bodyClose:
		n, err := b.c.br.Read(p)
		if err == io.EOF {
			b.end(nil)
			return n, io.EOF
		}
		if err != nil {
			return n, b.fail(err)
		}
		return n, nil
	case bodyChunked:
		return b.readChunked(p)
	}
	return 0, io.EOF
}

// readChunked reads chunk data into p. It never blocks once it holds some
// data, so that a streamed answer flows as the server sends it.
func (b *body) readChunked(p []byte) (int, error) {
	br := b.c.br
	n := 0
	for {
		switch b.state {
		case chunkData:
			if n == len(p) || n > 0 && br.Buffered() == 0 {
				return n, nil
			}
			m := len(p) - n
			if int64(m) > b.left {
				m = int(b.left)
			}
			k, err := br.Read(p[n : n+m])
			n += k
			b.left -= int64(k)
			if err != nil {
				return n, b.fail(err)
			}
			if b.left == 0 {
				b.state = chunkEnd
			}
		case chunkEnd:
			if n > 0 && br.Buffered() < 2 {
				return n, nil
			}
			crlf, err := br.Peek(2)
			if err != nil {
				return n, b.fail(err)
			}
			if crlf[0] != '\r' || crlf[1] != '\n' {
				return n, b.fail(malformed("chunk data not followed by CRLF"))
			}
			br.Discard(2)
			b.state = chunkSize
		case chunkSize:
			if n > 0 && !lineBuffered(br) {
				return n, nil
			}
			size, err := readChunkSize(br)
			if err != nil {
				return n, b.fail(err)
			}
			if size == 0 {
				b.state = chunkTrailer
				continue
			}
			b.left, b.state = size, chunkData
		case chunkTrailer:
			if n > 0 && !trailerBuffered(br) {
				return n, nil
			}
			if err := b.readTrailer(); err != nil {
				return n, b.fail(err)
			}
			b.end(nil)
			return n, io.EOF
		}
	}
}

// lineBuffered reports whether a whole line is in the read buffer.
func lineBuffered(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	return bytes.IndexByte(buf, '\n') >= 0
}

// trailerBuffered reports whether a whole trailer section is in the read
// buffer.
func trailerBuffered(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	return bytes.HasPrefix(buf, crlf) || bytes.Contains(buf, []byte("\r\n\r\n"))
}

var crlf = []byte("\r\n")

// readChunkSize reads a chunk-size line: hexadecimal digits, then
// optionally chunk extensions after a ";", ended by CRLF.
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return 0, malformed("chunk-size line longer than %d bytes", maxChunkLine)
	}
	if err != nil {
		return 0, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return 0, malformed("chunk-size line ended by a bare LF")
	}
	line = line[:len(line)-2]
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d, ok := hex.Digit(line[i])
		if !ok {
			break
		}
		if size > (1<<63-1-int64(d))/16 {
			return 0, malformed("chunk size too large")
		}
		size = size*16 + int64(d)
	}
	if i == 0 {
		return 0, malformed("chunk-size line %q", limitQuote(line))
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, malformed("chunk-size line %q", limitQuote(line))
	}
	for _, c := range rest {
		if !validValueByte(c) {
			return 0, malformed("chunk extension %q", limitQuote(rest))
		}
	}
	return size, nil
}

// readTrailer reads the trailer section and merges its fields into
// Response.Trailer as net/http does: the announced names get their
// values, and fields sent without announcement are added.
func (b *body) readTrailer() error {
	br := b.c.br
	if buf, _ := br.Peek(2); bytes.Equal(buf, crlf) {
		br.Discard(2)
		return nil
	}
	var got int
	head, err := readHead(br, make([]byte, 0, 256), b.t.opts.MaxHeaderBytes, &got, true)
	if err != nil {
		return err
	}
	tr, err := parseFields(head)
	if err != nil {
		return err
	}
	if b.res.Trailer == nil {
		b.res.Trailer = tr
		return nil
	}
	for k, vv := range tr {
		b.res.Trailer[k] = vv
	}
	return nil
}

// parseFields parses a trailer section: field lines ended by an empty
// line, under the rules of a response head.
func parseFields(head []byte) (http.Header, error) {
	n, err := checkFields(head, 0)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, n)
	addFields(h, string(head), 0, make([]string, n))
	return h, nil
}

// fail ends the body with an error; the connection is closed.
func (b *body) fail(err error) error {
	if err == io.EOF {
		err = fmt.Errorf("h1: connection closed in the middle of the body: %w", io.ErrUnexpectedEOF)
	}
	b.err = err
	b.end(err)
	return err
}

// end releases the connection once the body is over: back to the pool
// when it ended cleanly and may be reused, closed otherwise.
func (b *body) end(err error) {
	if b.err == nil {
		b.err = io.EOF
	}
	c := b.c
	if c == nil {
		return
	}
	b.c = nil
	if err != nil || c.closeAfter || c.br.Buffered() > 0 {
		c.close()
		return
	}
	c.pool.put(c, time.Now())
}

// Close ends the body. Closing it before its end closes the connection.
func (b *body) Close() error {
	if b.c != nil {
		b.end(errBodyClosed)
	}
	b.err = errBodyClosed
	return nil
}
