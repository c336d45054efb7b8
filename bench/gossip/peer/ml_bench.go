// ml_bench: the memberlist side of bench/gossip. N memberlist nodes
// (DefaultLANConfig, the profile Consul and Serf ship) in this one process,
// each on its own 127.0.0.1 port pair (UDP and TCP), so the packets cross
// the kernel's loopback like clusterd's. One run prints one JSON line.
//
//	-mode fail:   join, settle, then stop one node without Leave (a crash)
//	              and time until every survivor has declared it dead.
//	-mode steady: join, settle, then count the payload bytes all nodes hand
//	              to their sockets over -dur: bytes per node per second.
//
// Bytes are counted in a wrapper around memberlist's NetTransport: UDP
// payloads and every write on TCP streams, dialled or accepted (no IP, UDP
// or TCP headers), which is what clusterd's gossip byte counters count.
//
// Build (GOPATH mode, against Debian's golang-github-hashicorp-memberlist-dev):
//
//	GOPATH=$tmp:/usr/share/gocode GO111MODULE=off go build -o ml_bench .
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"math/rand"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// countTransport forwards to a NetTransport and counts what goes out. It
// implements only the plain Transport interface, so memberlist sends
// through WriteTo and DialTimeout (which this type sees) rather than the
// address-aware methods of NetTransport (which it would not).
type countTransport struct {
	nt     *memberlist.NetTransport
	bytes  *uint64
	stream chan net.Conn
}

type countConn struct {
	net.Conn
	bytes *uint64
}

func (c countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	atomic.AddUint64(c.bytes, uint64(n))
	return n, err
}

func (t *countTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.nt.FinalAdvertiseAddr(ip, port)
}

func (t *countTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	atomic.AddUint64(t.bytes, uint64(len(b)))
	return t.nt.WriteTo(b, addr)
}

func (t *countTransport) PacketCh() <-chan *memberlist.Packet { return t.nt.PacketCh() }

func (t *countTransport) DialTimeout(addr string, d time.Duration) (net.Conn, error) {
	c, err := t.nt.DialTimeout(addr, d)
	if err != nil {
		return nil, err
	}
	return countConn{c, t.bytes}, nil
}

func (t *countTransport) StreamCh() <-chan net.Conn { return t.stream }

func (t *countTransport) Shutdown() error { return t.nt.Shutdown() }

// forward wraps accepted streams so that answers on them are counted too.
func (t *countTransport) forward() {
	for c := range t.nt.StreamCh() {
		t.stream <- countConn{c, t.bytes}
	}
}

// deadWatch records when each node first hears that the victim is gone.
type deadWatch struct {
	mu     sync.Mutex
	victim string
	seen   map[int]time.Time
}

type events struct {
	self int
	w    *deadWatch
}

func (e events) NotifyJoin(*memberlist.Node)   {}
func (e events) NotifyUpdate(*memberlist.Node) {}
func (e events) NotifyLeave(n *memberlist.Node) {
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	if e.w.victim != "" && n.Name == e.w.victim {
		if _, ok := e.w.seen[e.self]; !ok {
			e.w.seen[e.self] = time.Now()
		}
	}
}

type result struct {
	Mode          string  `json:"mode"`
	N             int     `json:"n"`
	JoinConvMs    int64   `json:"join_conv_ms"`
	FirstDeadMs   int64   `json:"first_dead_ms,omitempty"`
	AllDeadMs     int64   `json:"all_dead_ms,omitempty"`
	BytesPerNodeS float64 `json:"bytes_per_node_s,omitempty"`
	WindowS       float64 `json:"window_s,omitempty"`
	Error         string  `json:"error,omitempty"`
}

func fail(r *result, msg string) {
	r.Error = msg
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	os.Exit(1)
}

func main() {
	n := flag.Int("n", 50, "nodes")
	base := flag.Int("baseport", 31000, "first port; node i uses base+i")
	mode := flag.String("mode", "fail", "fail or steady")
	settle := flag.Duration("settle", 5*time.Second, "quiet time after the join")
	dur := flag.Duration("dur", 60*time.Second, "steady: counting window")
	timeout := flag.Duration("timeout", 120*time.Second, "bound on each wait")
	seed := flag.Int64("seed", time.Now().UnixNano(), "victim choice")
	flag.Parse()
	rng := rand.New(rand.NewSource(*seed))
	r := &result{Mode: *mode, N: *n}
	var bytes uint64
	watch := &deadWatch{seen: map[int]time.Time{}}
	nodes := make([]*memberlist.Memberlist, *n)
	quiet := log.New(ioutil.Discard, "", 0)

	for i := 0; i < *n; i++ {
		// memberlist starts its probe and gossip tickers at Create: nodes
		// created back to back would all probe in the same instant, which
		// separate processes never do. Spread them over a probe interval.
		time.Sleep(time.Duration(rng.Int63n(int64(time.Second) / int64(*n))))
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{"127.0.0.1"}, BindPort: *base + i, Logger: quiet})
		if err != nil {
			fail(r, fmt.Sprintf("transport %d: %v", i, err))
		}
		t := &countTransport{nt: nt, bytes: &bytes, stream: make(chan net.Conn)}
		go t.forward()
		c := memberlist.DefaultLANConfig()
		c.Name = fmt.Sprintf("ml-%d", i)
		c.BindAddr, c.BindPort = "127.0.0.1", *base+i
		c.AdvertiseAddr, c.AdvertisePort = "127.0.0.1", *base+i
		c.Transport = t
		c.Logger = quiet
		c.Events = events{self: i, w: watch}
		if nodes[i], err = memberlist.Create(c); err != nil {
			fail(r, fmt.Sprintf("create %d: %v", i, err))
		}
	}
	seedAddr := []string{fmt.Sprintf("127.0.0.1:%d", *base)}
	for i := 1; i < *n; i++ {
		if _, err := nodes[i].Join(seedAddr); err != nil {
			fail(r, fmt.Sprintf("join %d: %v", i, err))
		}
	}
	t0 := time.Now()
	for !complete(nodes, *n) {
		if time.Since(t0) > *timeout {
			fail(r, "join did not converge")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.JoinConvMs = time.Since(t0).Milliseconds()
	time.Sleep(*settle)

	if *mode == "steady" {
		b0, s0 := atomic.LoadUint64(&bytes), time.Now()
		time.Sleep(*dur)
		b1, el := atomic.LoadUint64(&bytes), time.Since(s0).Seconds()
		r.BytesPerNodeS = float64(b1-b0) / float64(*n) / el
		r.WindowS = el
	} else {
		v := 1 + rng.Intn(*n-1)
		watch.mu.Lock()
		watch.victim = fmt.Sprintf("ml-%d", v)
		watch.mu.Unlock()
		tk := time.Now()
		nodes[v].Shutdown() // no Leave: the others must detect it
		for {
			watch.mu.Lock()
			got := len(watch.seen)
			var first, last time.Time
			for _, t := range watch.seen {
				if first.IsZero() || t.Before(first) {
					first = t
				}
				if t.After(last) {
					last = t
				}
			}
			watch.mu.Unlock()
			if got == *n-1 {
				r.FirstDeadMs = first.Sub(tk).Milliseconds()
				r.AllDeadMs = last.Sub(tk).Milliseconds()
				break
			}
			if time.Since(tk) > *timeout {
				fail(r, fmt.Sprintf("only %d of %d survivors saw the crash", got, *n-1))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	os.Exit(0) // the remaining nodes die with the process
}

func complete(nodes []*memberlist.Memberlist, n int) bool {
	for _, m := range nodes {
		if m.NumMembers() != n {
			return false
		}
	}
	return true
}
