// Package echo is an HTTP backend that answers each request with a JSON
// description of it: path, host, method, protocol, headers, TLS state and
// where the backend runs. It speaks the format of echo-basic, the backend
// of the Gateway API conformance suite, so that the suite's assertions
// (and a person trying the quick start) can read which backend a request
// reached and what it looked like when it got there.
//
// The handler returned by New serves echo-basic's HTTP port:
//
//	/health          200 "OK"
//	/status/NNN      an empty answer with status NNN (400 for anything else)
//	/retry/...       fails until ?succeedAfter=N attempts were made for ?uuid=,
//	                 by resetting the connection or, with ?responseCode=C,
//	                 answering C; ?delayRetry=D waits D before failing
//	/ws              a WebSocket echo (RFC 6455): every frame is sent back
//	everything else  the JSON echo; ?delay=D waits D first
//
// The echo copies the comma-separated "name:value" pairs of every
// X-Echo-Set-Header request header into the response headers.
//
// NewH2C returns the handler of echo-basic's h2c port, which echoes only
// HTTP/2 requests.
package echo

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Info says where an echo backend runs; the echo reports it in every
// answer.
type Info struct {
	Namespace string
	Ingress   string
	Service   string
	Pod       string
	// HTTPPort is reported in the "httpPort" field, as echo-basic reports
	// the port its HTTP server listens on ("3000" unless configured).
	HTTPPort string
	// Log receives one line for each request echoed, and one for each
	// WebSocket connection, in echo-basic's words:
	//
	//	Echoing back request made to /path?query to client (127.0.0.1:4321)
	//
	// Each line is written with a single call to Write, possibly from
	// several goroutines at once. Nil discards the lines.
	Log io.Writer
}

// Request is the JSON document an echo answers with. Its field names and
// order are echo-basic's.
type Request struct {
	Path     string              `json:"path"`
	Host     string              `json:"host"`
	Method   string              `json:"method"`
	Proto    string              `json:"proto"`
	Headers  map[string][]string `json:"headers"`
	HTTPPort string              `json:"httpPort"`

	Namespace string `json:"namespace"`
	Ingress   string `json:"ingress"`
	Service   string `json:"service"`
	Pod       string `json:"pod"`

	TLS *TLS `json:"tls,omitempty"`
}

// TLS describes the TLS connection a request arrived on.
type TLS struct {
	Version string `json:"version"`
	// PeerCertificates are the client's certificates, PEM encoded.
	PeerCertificates   []string `json:"peerCertificates,omitempty"`
	ServerName         string   `json:"serverName"`
	NegotiatedProtocol string   `json:"negotiatedProtocol,omitempty"`
	CipherSuite        string   `json:"cipherSuite"`
}

// server is one echo backend. Its only mutable state is the retry
// simulation's attempt counts.
type server struct {
	info Info
	mux  *http.ServeMux

	mu       sync.Mutex
	attempts map[string]int
}

// New returns the handler of an echo backend's HTTP port.
func New(info Info) http.Handler {
	s := &server{info: info, attempts: map[string]int{}}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/health", health)
	s.mux.HandleFunc("/status/", status)
	s.mux.HandleFunc("/retry/", s.retry)
	s.mux.HandleFunc("/ws", s.websocket)
	s.mux.HandleFunc("/", s.echo)
	return s
}

// ServeHTTP collapses doubled slashes in the path before routing, as
// echo-basic does, so that "//status/500" still reaches the status page.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.URL.Path = strings.ReplaceAll(r.URL.Path, "//", "/")
	s.mux.ServeHTTP(w, r)
}

// NewH2C returns the handler of an echo backend's h2c port: it echoes
// requests made with HTTP/2 (or HTTP/1.1 asking to upgrade to h2c) and
// answers any other request 400. Serve it with unencrypted HTTP/2 enabled
// (http.Protocols.SetUnencryptedHTTP2).
func NewH2C(info Info) http.Handler {
	s := &server{info: info}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 && r.Header.Get("Upgrade") != "h2c" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "Expected h2c request")
			return
		}
		s.echo(w, r)
	})
}

func (s *server) logf(format string, args ...any) {
	if s.info.Log != nil {
		_, _ = io.WriteString(s.info.Log, fmt.Sprintf(format, args...))
	}
}

func health(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK")
}

var statusPath = regexp.MustCompile(`^/status/(\d\d\d)$`)

// status answers with the status code in the request URI. Like echo-basic
// it reads the raw request URI, so a query string makes the answer 400, as
// does a code that is not a final status (below 200).
func status(w http.ResponseWriter, r *http.Request) {
	code := http.StatusBadRequest
	if m := statusPath.FindStringSubmatch(r.RequestURI); m != nil {
		if c, _ := strconv.Atoi(m[1]); c >= 200 {
			code = c
		}
	}
	w.WriteHeader(code)
}

// echo answers with the JSON description of the request, after the delay
// the "delay" query parameter asks for.
func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	s.logf("Echoing back request made to %s to client (%s)\n", r.RequestURI, r.RemoteAddr)
	if err := delay(r, "delay"); err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	body, err := json.MarshalIndent(s.describe(r), "", " ")
	if err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	setEchoHeaders(w.Header(), r.Header)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

// describe returns what the echo reports about r.
func (s *server) describe(r *http.Request) Request {
	return Request{
		Path:      r.RequestURI,
		Host:      r.Host,
		Method:    r.Method,
		Proto:     r.Proto,
		Headers:   r.Header,
		HTTPPort:  s.info.HTTPPort,
		Namespace: s.info.Namespace,
		Ingress:   s.info.Ingress,
		Service:   s.info.Service,
		Pod:       s.info.Pod,
		TLS:       describeTLS(r.TLS),
	}
}

func describeTLS(cs *tls.ConnectionState) *TLS {
	if cs == nil {
		return nil
	}
	t := &TLS{
		NegotiatedProtocol: cs.NegotiatedProtocol,
		ServerName:         cs.ServerName,
		CipherSuite:        tls.CipherSuiteName(cs.CipherSuite),
	}
	switch cs.Version {
	case tls.VersionTLS13:
		t.Version = "TLSv1.3"
	case tls.VersionTLS12:
		t.Version = "TLSv1.2"
	case tls.VersionTLS11:
		t.Version = "TLSv1.1"
	case tls.VersionTLS10:
		t.Version = "TLSv1.0"
	default:
		t.Version = ""
	}
	for _, c := range cs.PeerCertificates {
		t.PeerCertificates = append(t.PeerCertificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	return t
}

// setEchoHeaders copies the "name:value" pairs of the X-Echo-Set-Header
// request headers into the response headers h, keeping the names' case. A
// name given twice gets its values joined with a comma.
func setEchoHeaders(h http.Header, req http.Header) {
	for _, list := range req["X-Echo-Set-Header"] {
		for kv := range strings.SplitSeq(list, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(kv), ":")
			if len(h[name]) == 0 {
				h[name] = []string{value}
			} else {
				h[name][0] += "," + strings.TrimSpace(value)
			}
		}
	}
}

// delay waits for the duration in the form value key, if there is one. It
// returns early, without error, when the client goes away.
func delay(r *http.Request, key string) error {
	v := r.FormValue(key)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
	return nil
}

// writeError answers with a JSON {"message": ...} document.
func writeError(w http.ResponseWriter, err error, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{err.Error()})
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// retry simulates a flaky backend: for each ?uuid= it fails the first
// ?succeedAfter= attempts, then echoes. A failure resets the connection,
// or answers ?responseCode= when that is set.
func (s *server) retry(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("uuid")
	if id == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "uuid is required")
		return
	}
	succeedAfter, err := strconv.Atoi(q.Get("succeedAfter"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "succeedAfter is required")
		return
	}
	s.mu.Lock()
	fail := s.attempts[id] < succeedAfter
	if fail {
		s.attempts[id]++
	}
	s.mu.Unlock()
	if !fail {
		s.echo(w, r)
		return
	}
	if err := delay(r, "delayRetry"); err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	if code, err := strconv.Atoi(q.Get("responseCode")); err == nil {
		w.WriteHeader(code)
		return
	}
	if err := reset(w); err != nil {
		writeError(w, err, http.StatusInternalServerError)
	}
}

// reset aborts the connection of w with a TCP RST.
func reset(w http.ResponseWriter) error {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		if err := tcp.SetLinger(0); err != nil {
			conn.Close()
			return err
		}
	}
	return conn.Close()
}
