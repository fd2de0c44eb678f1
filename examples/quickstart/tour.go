package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// A stop of the tour is one curl command and the answer it should give.
// The quick start prints it; main_test.go sends the same requests and
// checks the same answers, so the tour cannot drift from what is served.
type stop struct {
	// section is the part of the post the stop shows.
	section string
	// what says what the stop shows.
	what string
	// needs are the examples that must be served for the stop to give its
	// answer; under -only, stops whose examples are not all served are
	// left out.
	needs []string

	method string // GET when empty
	host   string // the Host header; curl's own when empty
	path   string
	header [][2]string
	body   string
	// repeat, when set, sends the request that many times, in a loop that
	// prints one line per answer.
	repeat int
	// jar sends back the cookies of earlier answers (curl -c/-b).
	jar bool
	// later marks an answer that arrives asynchronously: ask again until
	// it comes.
	later bool

	want want
	// withLambda, when set, is the answer when the quick start has a
	// Lambda emulator (-lambda).
	withLambda *want

	// base is the URL of the Router that serves the stop, set by plan.
	base string
}

// want is the answer of a stop: every field that is set is printed and
// checked.
type want struct {
	status int
	// statuses are the statuses of the answers of a loop, in order.
	statuses []int
	// backend is the X-Demo-Backend of every answer.
	backend string
	// backends are the backends a loop's answers come from, each from one.
	backends []string
	// route is the X-Demo-Route of every answer (route and rule matched).
	route string
	// header are response headers and their values; "" means absent.
	header [][2]string
	// body is a part of the body.
	body string
	// echo is what the echo backend saw of the request.
	echo *echoWant
	// endpoints is "same" when every answer of a loop comes from the same
	// X-Demo-Endpoint, "differ" when each differs from the one before.
	endpoints string
	// note explains the answer.
	note string
}

// echoWant is what an echo backend reports having received.
type echoWant struct {
	path, host string
	// header are request headers as the backend saw them; "" means absent.
	header [][2]string
}

// tourStops is the tour of the post, section by section.
func tourStops() []stop {
	const (
		basics     = "HTTPRoute: hostnames, listeners, path prefixes"
		matches    = "Matches"
		filters    = "Filters"
		extension  = "Extend core capabilities with the ExtensionRef filter"
		backends   = "BackendRefs"
		splitting  = "Splitting traffic between different backends"
		backendAPI = "Explore kgateway's Backend API"
		resilience = "Resilience"
	)
	return []stop{
		{section: basics, needs: []string{"01"},
			what: "every request for httpbin.example.com goes to httpbin (route 01); a hostname match outranks any path match, so /headers is not the A/B route's here",
			host: "httpbin.example.com", path: "/headers",
			want: want{status: 200, backend: "default/httpbin", route: "default/httpbin rule 0"}},
		{section: basics, needs: []string{"02"},
			what: "route 02 binds to listener http of my-gateway and only takes the path prefix /status/200",
			path: "/status/200",
			want: want{status: 200, backend: "httpbin/httpbin", route: "httpbin/httpbin rule 0"}},

		{section: matches, needs: []string{"03"},
			what:   "A/B route, rule 0: path /status AND header user: me go to httpbin-v1",
			header: [][2]string{{"user", "me"}}, path: "/status/201",
			want: want{status: 201, backend: "default/httpbin-v1", route: "default/httpbin-03 rule 0"}},
		{section: matches, needs: []string{"03", "07"},
			what: "without the header the AND fails: route 07's PathPrefix / answers",
			path: "/status/201",
			want: want{status: 201, backend: "httpbin/httpbin", route: "httpbin/httpbin-direct-resonse rule 0"}},
		{section: matches, needs: []string{"03"},
			what:   "rule 1: method POST AND query version=2 go to httpbin-v2",
			method: "POST", path: "/anything?version=2",
			want: want{status: 200, backend: "default/httpbin-v2", route: "default/httpbin-03 rule 1"}},
		{section: matches, needs: []string{"03", "07"},
			what: "a GET with the same query is not a POST: route 07 answers",
			path: "/anything?version=2",
			want: want{status: 200, backend: "httpbin/httpbin", route: "httpbin/httpbin-direct-resonse rule 0"}},
		{section: matches, needs: []string{"03"},
			what: "rule 2: path /headers OR header version: 3 go to httpbin-v3; the path",
			path: "/headers",
			want: want{status: 200, backend: "default/httpbin-v3", route: "default/httpbin-03 rule 2"}},
		{section: matches, needs: []string{"03"},
			what:   "... or the header, on any path",
			header: [][2]string{{"version", "3"}}, path: "/ip",
			want: want{status: 200, backend: "default/httpbin-v3", route: "default/httpbin-03 rule 2"}},
		{section: matches, needs: []string{"03"},
			what:   "precedence: an Exact path outranks a method and a query parameter (rule 2 over rule 1)",
			method: "POST", path: "/headers?version=2",
			want: want{status: 200, backend: "default/httpbin-v3", route: "default/httpbin-03 rule 2"}},
		{section: matches, needs: []string{"02", "03"},
			what:   "precedence: a longer path prefix outranks a header match (route 02's /status/200 over rule 0's /status)",
			header: [][2]string{{"user", "me"}}, path: "/status/200",
			want: want{status: 200, backend: "httpbin/httpbin", route: "httpbin/httpbin rule 0"}},
		{section: matches, needs: []string{"04"},
			what: "bookinfo: Exact /productpage",
			path: "/productpage",
			want: want{status: 200, backend: "default/productpage", route: "default/bookinfo rule 0"}},
		{section: matches, needs: []string{"04"},
			what: "bookinfo: PathPrefix /static",
			path: "/static/app.css",
			want: want{status: 200, backend: "default/productpage", route: "default/bookinfo rule 0"}},
		{section: matches, needs: []string{"04", "07"},
			what: "a PathPrefix matches whole path segments: /staticfile is not under /static",
			path: "/staticfile",
			want: want{status: 200, backend: "httpbin/httpbin", route: "httpbin/httpbin-direct-resonse rule 0"}},

		{section: filters, needs: []string{"05"},
			what: "RequestRedirect to HTTPS (route 05; on its own address, as route 01 takes every request for the same host here)",
			host: "httpbin.example.com", path: "/status/200?x=1",
			want: want{status: 301, header: [][2]string{{"Location", "https://httpbin.example.com/status/200?x=1"}}}},
		{section: filters, needs: []string{"rewrite"},
			what: "URLRewrite: /v1/... is served by the v2 API, under the host name it expects",
			host: "rewrite.example", path: "/v1/users/7",
			want: want{status: 200, backend: "default/httpbin", echo: &echoWant{path: "/v2/users/7", host: "api.internal"}}},
		{section: filters, needs: []string{"headers"},
			what: "RequestHeaderModifier sets X-Trace-Source and strips X-Debug; ResponseHeaderModifier sets X-Frame-Options and strips X-Powered-By",
			host: "headers.example", header: [][2]string{{"X-Debug", "1"}}, path: "/anything",
			want: want{status: 200, backend: "default/httpbin",
				header: [][2]string{{"X-Frame-Options", "DENY"}, {"X-Powered-By", ""}},
				echo:   &echoWant{header: [][2]string{{"X-Trace-Source", "gateway"}, {"X-Debug", ""}}}}},
		{section: filters, needs: []string{"mirror"},
			what: "RequestMirror: httpbin answers, and a copy of the request goes to httpbin-shadow",
			host: "mirror.example", path: "/orders/42",
			want: want{status: 200, backend: "default/httpbin"}},
		{section: filters, needs: []string{"mirror"},
			what: "the copy arrived at httpbin-shadow, which lists what it received",
			host: "mirror.example", path: "/mirror-log", later: true,
			want: want{status: 200, backend: "default/httpbin-shadow", body: "GET /orders/42"}},
		{section: filters, needs: []string{"cors"},
			what:   "CORS: the browser's preflight from an allowed origin, answered by the Gateway",
			method: "OPTIONS", host: "cors.example", path: "/api/orders",
			header: [][2]string{{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}},
			want: want{status: 204, header: [][2]string{
				{"Access-Control-Allow-Origin", "https://app.example"},
				{"Access-Control-Allow-Methods", "GET, POST"},
				{"Access-Control-Max-Age", "600"},
			}}},
		{section: filters, needs: []string{"cors"},
			what:   "a preflight from another origin gets no CORS headers: the browser refuses the call",
			method: "OPTIONS", host: "cors.example", path: "/api/orders",
			header: [][2]string{{"Origin", "https://elsewhere.example"}, {"Access-Control-Request-Method", "POST"}},
			want:   want{status: 204, header: [][2]string{{"Access-Control-Allow-Origin", ""}}}},

		{section: extension, needs: []string{"06", "07"},
			what: "ExtensionRef to a DirectResponse: Exact /direct-response outranks route 07's PathPrefix /",
			path: "/direct-response",
			want: want{status: 404, body: "User-agent: *\nDisallow: /direct-response\n"}},

		{section: backends, needs: []string{"08"},
			what: "route 08 sends everything to the Service httpbin (route 07, older, has the same match and the same backend, and answers first)",
			path: "/get",
			want: want{status: 200, backend: "httpbin/httpbin"}},

		{section: splitting, needs: []string{"09"},
			what: "1:1 split between httpbin-v1 and httpbin-v2 (route 09, on listener hostname infra.example, as route 02 takes /status/200 on other hosts)",
			host: "infra.example", path: "/status/200", repeat: 10,
			want: want{status: 200, backends: []string{"httpbin/httpbin-v1", "httpbin/httpbin-v2"}, note: "about half each"}},
		{section: splitting, needs: []string{"10"},
			what: "10/10/80 split",
			host: "traffic.split.example", path: "/", repeat: 10,
			want: want{status: 200, backends: []string{"helloworld/helloworld-v1", "helloworld/helloworld-v2", "helloworld/helloworld-v3"}, note: "about 8 in 10 from helloworld-v3"}},

		{section: backendAPI, needs: []string{"11", "12"},
			what:   "an AWS Lambda Backend, invoked with the event Envoy's aws_lambda filter sends",
			method: "POST", path: "/echo", header: [][2]string{{"Content-Type", "application/json"}}, body: `{"hi":1}`,
			want: want{status: 503, body: "has no Lambda endpoint to invoke",
				note: "no emulator: see the README's Lambda recipe, then run the quick start with -lambda http://127.0.0.1:9001"},
			withLambda: &want{status: 200, body: `"raw_path":"/echo"`, note: "the function's echo of the event"}},

		{section: resilience, needs: []string{"timeout"},
			what: "timeouts.request 1s: a backend that answers in 100ms is served",
			host: "timeout.example", path: "/?delay=100ms",
			want: want{status: 200, backend: "default/slow"}},
		{section: resilience, needs: []string{"timeout"},
			what: "one that takes 3s is cut at 1s",
			host: "timeout.example", path: "/?delay=3s",
			want: want{status: 504}},
		{section: resilience, needs: []string{"retry"},
			what: "the flaky backend answers 503 to every other request; without a retry, half the answers fail",
			host: "retry.example", path: "/no-retry", repeat: 4,
			want: want{statuses: []int{503, 200, 503, 200}}},
		{section: resilience, needs: []string{"retry"},
			what: "retry (attempts: 1, codes: [503]): each 503 is sent again, and the second answer comes back",
			host: "retry.example", path: "/orders", repeat: 4,
			want: want{statuses: []int{200, 200, 200, 200}}},
		{section: resilience, needs: []string{"failover"},
			what: "timeouts and retry fail over: half the split goes to a backend that never answers; after 250ms the attempt is retried on the other backendRef",
			host: "failover.example", path: "/", repeat: 6,
			want: want{status: 200, backends: []string{"default/httpbin"}}},
		{section: resilience, needs: []string{"session"},
			what: "the cart Service has three endpoints; without a session, requests go round them",
			host: "session.example", path: "/cart", repeat: 3,
			want: want{status: 200, backend: "default/cart", endpoints: "differ"}},
		{section: resilience, needs: []string{"session"},
			what: "sessionPersistence: the first answer sets the cart-session cookie; sent back, it keeps the client on one endpoint",
			host: "session.example", path: "/cart", repeat: 3, jar: true,
			want: want{status: 200, backend: "default/cart", endpoints: "same"}},
	}
}

// plan returns the stops whose examples are all served, each with the
// base URL of the Router that serves them (bases by "main" or "alone"),
// and with the answer for a Lambda emulator when there is one.
func plan(stops []stop, where map[string]string, bases map[string]string, lambda bool) []stop {
	var out []stop
	for _, s := range stops {
		served := true
		for _, id := range s.needs {
			if _, ok := where[id]; !ok {
				served = false
			}
		}
		if !served {
			continue
		}
		s.base = bases[where[s.needs[0]]]
		if lambda && s.withLambda != nil {
			s.want = *s.withLambda
		}
		out = append(out, s)
	}
	return out
}

// cookieJar is where the tour's curl commands keep session cookies.
const cookieJar = "/tmp/quickstart-cookies"

// curl returns the command line of a stop.
func (s stop) curl() string {
	var b strings.Builder
	b.WriteString("curl -s")
	if s.repeat == 0 {
		b.WriteString("i")
	}
	if s.method != "" && s.method != http.MethodGet && !(s.method == http.MethodPost && s.body != "") {
		b.WriteString(" -X " + s.method)
	}
	if s.host != "" {
		b.WriteString(" -H " + quote("Host: "+s.host))
	}
	for _, h := range s.header {
		b.WriteString(" -H " + quote(h[0]+": "+h[1]))
	}
	if s.body != "" {
		b.WriteString(" -d " + quote(s.body))
	}
	if s.jar {
		b.WriteString(" -c " + cookieJar + " -b " + cookieJar)
	}
	url := s.base + s.path
	if strings.ContainsAny(url, "?&") {
		url = quote(url)
	}
	if s.repeat == 0 {
		b.WriteString(" " + url)
		return b.String()
	}
	// A loop prints one line per answer: its status, or the header that
	// says which backend or endpoint answered.
	switch {
	case s.want.statuses != nil:
		b.WriteString(" -o /dev/null -w '%{http_code}\\n' " + url)
	case s.want.endpoints != "":
		b.WriteString(" -o /dev/null -D - " + url + " | grep -i '^" + headerEndpoint + "'")
	default:
		b.WriteString(" -o /dev/null -D - " + url + " | grep -i '^" + headerBackend + "'")
	}
	loop := fmt.Sprintf("for i in $(seq %d); do %s; done", s.repeat, b.String())
	if s.jar {
		loop = "rm -f " + cookieJar + "; " + loop
	}
	return loop
}

// quote quotes s for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// answer describes the answer a stop should give.
func (s stop) answer() string {
	w := s.want
	var first string
	switch {
	case w.statuses != nil:
		first = strings.Trim(fmt.Sprint(w.statuses), "[]")
	case s.repeat > 0:
		first = fmt.Sprintf("%d times %d", s.repeat, w.status)
	default:
		first = fmt.Sprint(w.status)
	}
	switch {
	case w.backend != "" && w.route != "":
		first += fmt.Sprintf(" from %s (route %s)", w.backend, w.route)
	case w.backend != "":
		first += " from " + w.backend
	case len(w.backends) == 1:
		first += " from " + w.backends[0]
	case len(w.backends) > 1:
		first += " from " + strings.Join(w.backends[:len(w.backends)-1], ", ") + " or " + w.backends[len(w.backends)-1]
	}
	parts := []string{first}
	switch w.endpoints {
	case "same":
		parts = append(parts, "the same "+headerEndpoint+" each time")
	case "differ":
		parts = append(parts, "a different "+headerEndpoint+" each time")
	}
	for _, h := range w.header {
		if h[1] == "" {
			parts = append(parts, "no "+h[0])
		} else {
			parts = append(parts, h[0]+": "+h[1])
		}
	}
	if w.echo != nil {
		var seen []string
		if w.echo.path != "" {
			seen = append(seen, "path "+w.echo.path)
		}
		if w.echo.host != "" {
			seen = append(seen, "Host "+w.echo.host)
		}
		for _, h := range w.echo.header {
			if h[1] == "" {
				seen = append(seen, "no "+h[0])
			} else {
				seen = append(seen, h[0]+": "+h[1])
			}
		}
		parts = append(parts, "which sees "+strings.Join(seen, ", "))
	}
	if w.body != "" {
		if strings.ContainsAny(w.body, "'\n") {
			parts = append(parts, fmt.Sprintf("body with %q", w.body))
		} else {
			parts = append(parts, "body with '"+w.body+"'")
		}
	}
	if w.note != "" {
		parts = append(parts, w.note)
	}
	return strings.Join(parts, "; ")
}

// printTour prints the stops, section by section.
func printTour(w io.Writer, stops []stop) {
	fmt.Fprintln(w, "\nTour: each command, then the answer it should give.")
	var sections []string
	for _, s := range stops {
		if !slices.Contains(sections, s.section) {
			sections = append(sections, s.section)
		}
	}
	if len(stops) == 0 {
		fmt.Fprintln(w, "  (no stop of the tour shows these examples alone)")
	}
	for _, sec := range sections {
		fmt.Fprintf(w, "\n  ## %s\n", sec)
		for _, s := range stops {
			if s.section != sec {
				continue
			}
			fmt.Fprintf(w, "  # %s\n  %s\n  #   -> %s\n", s.what, s.curl(), s.answer())
		}
	}
}
