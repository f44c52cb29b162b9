// Command peer-client opens authenticated WebSockets against Vigil or Centrifugo with the same
// code path for both, so the two servers are compared under one client. It is written in Go
// because a Node client on the same two cores spends more CPU per handshake than the servers
// it measures; a Go client keeps the generator's share small and reports it.
//
// Protocol with its parent (scripts/load/peer.ts), one JSON line per step on stdout:
//
//	start → open -sockets sockets, -concurrency in flight → {"phase":"connected",…}
//	stdin "stream R S" → every socket sends R messages/s for S s → {"phase":"streamed",…}
//	stdin "close" (or EOF) → close every socket → {"phase":"closed",…} and exit
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

type options struct {
	server      string
	url         string
	tokensFile  string
	sockets     int
	concurrency int
	sources     []net.IP
	latencies   string
	ackEvery    int
}

type conn struct {
	ws         *websocket.Conn
	writeMu    sync.Mutex
	seq        uint32
	streamOpen bool
}

type client struct {
	opts    options
	tokens  []string
	conns   []*conn
	connsMu sync.Mutex
	// Upgrade start → ready (Vigil) or connect reply (Centrifugo), µs, one per ready socket.
	latencyUs []uint32
	failed    atomic.Int64
	closed    atomic.Int64
	acks      atomic.Int64
	replies   atomic.Int64
	firstErr  atomic.Value
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	fmt.Sscan(string(data), &size, &resident)
	return resident * int64(os.Getpagesize())
}

func emit(v map[string]any) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}

func (c *client) dialer(index int) *websocket.Dialer {
	d := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	if len(c.opts.sources) > 0 {
		// Past ~25k sockets one source address runs out of ephemeral ports towards one server port.
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: c.opts.sources[index%len(c.opts.sources)]}}
		d.NetDialContext = nd.DialContext
	}
	if c.opts.server == "vigil" {
		d.Subprotocols = []string{"vigil.v1", "bearer." + c.tokens[index%len(c.tokens)]}
	}
	return d
}

// open performs one authenticated connect and returns the socket once the server has admitted it.
func (c *client) open(index int) (*conn, time.Duration, error) {
	started := time.Now()
	ws, _, err := c.dialer(index).DialContext(context.Background(), c.opts.url, http.Header{})
	if err != nil {
		return nil, 0, err
	}
	if c.opts.server == "centrifugo" {
		connect := fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, c.tokens[index%len(c.tokens)])
		if err := ws.WriteMessage(websocket.TextMessage, []byte(connect)); err != nil {
			ws.Close()
			return nil, 0, err
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, message, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, 0, err
	}
	text := string(message)
	ok := (c.opts.server == "vigil" && strings.Contains(text, `"type":"ready"`)) ||
		(c.opts.server == "centrifugo" && strings.Contains(text, `"connect":`) && !strings.Contains(text, `"error"`))
	if !ok {
		ws.Close()
		return nil, 0, fmt.Errorf("unexpected first message: %.200s", text)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return &conn{ws: ws}, time.Since(started), nil
}

// read drains a ready socket: answers Centrifugo's application pings, counts acks and replies.
func (c *client) read(k *conn) {
	for {
		_, message, err := k.ws.ReadMessage()
		if err != nil {
			c.closed.Add(1)
			return
		}
		for _, line := range strings.Split(string(message), "\n") {
			switch {
			case line == "{}":
				k.writeMu.Lock()
				_ = k.ws.WriteMessage(websocket.TextMessage, []byte("{}"))
				k.writeMu.Unlock()
			case strings.Contains(line, `"type":"ack"`):
				c.acks.Add(1)
			case strings.HasPrefix(line, `{"id":`):
				c.replies.Add(1)
			}
		}
	}
}

func (c *client) connectAll() {
	slots := make(chan struct{}, c.opts.concurrency)
	var wg sync.WaitGroup
	var latMu sync.Mutex
	for i := 0; i < c.opts.sockets; i++ {
		slots <- struct{}{}
		wg.Add(1)
		go func(index int) {
			defer wg.Done()
			k, took, err := c.open(index)
			<-slots
			if err != nil {
				c.failed.Add(1)
				c.firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			latMu.Lock()
			c.latencyUs = append(c.latencyUs, uint32(max(1, took.Microseconds())))
			latMu.Unlock()
			c.connsMu.Lock()
			c.conns = append(c.conns, k)
			c.connsMu.Unlock()
			go c.read(k)
		}(i)
	}
	wg.Wait()
}

// A Vigil sample frame of stream 1 as protocol/frames.ts lays it out: 24-byte header (version 1,
// float32, flags, 3 channels, stream, 1 sample, timestamp, sequence, scale 1), then 3 float32.
func vigilFrame(k *conn, ackEvery int) []byte {
	flags := byte(0)
	if ackEvery > 0 && (k.seq+1)%uint32(ackEvery) == 0 {
		flags = 1
	}
	frame := make([]byte, 0, 36)
	frame = append(frame, 1, 1, flags, 3)
	frame = binary.LittleEndian.AppendUint16(frame, 1)
	frame = binary.LittleEndian.AppendUint16(frame, 1)
	frame = binary.LittleEndian.AppendUint64(frame, math.Float64bits(float64(time.Now().UnixMilli())))
	frame = binary.LittleEndian.AppendUint32(frame, k.seq)
	frame = binary.LittleEndian.AppendUint32(frame, math.Float32bits(1))
	for ch := 0; ch < 3; ch++ {
		frame = binary.LittleEndian.AppendUint32(frame, math.Float32bits(float32(ch)))
	}
	k.seq++
	return frame
}

// stream sends rate messages per second on every socket for seconds, spread evenly over time.
func (c *client) stream(rate float64, seconds float64) (sent int64, took float64) {
	if rate <= 0 || len(c.conns) == 0 {
		return 0, 0
	}
	if c.opts.server == "vigil" {
		// Frames belong to a declared stream; its rate is the frame rate (one sample per frame).
		open := fmt.Sprintf(`{"type":"stream.open","stream":1,"rate":%g,"channels":["x","y","z"]}`, rate)
		for _, k := range c.conns {
			k.writeMu.Lock()
			if !k.streamOpen {
				_ = k.ws.WriteMessage(websocket.TextMessage, []byte(open))
				k.streamOpen = true
			}
			k.writeMu.Unlock()
		}
		time.Sleep(time.Second)
	}
	interval := time.Duration(float64(time.Second) / (rate * float64(len(c.conns))))
	started := time.Now()
	deadline := started.Add(time.Duration(seconds * float64(time.Second)))
	next := time.Now()
	for i := 0; time.Now().Before(deadline); i++ {
		k := c.conns[i%len(c.conns)]
		var message []byte
		kind := websocket.TextMessage
		if c.opts.server == "vigil" {
			message = vigilFrame(k, c.opts.ackEvery)
			kind = websocket.BinaryMessage
		} else {
			k.seq++
			// A client publication (the channel allows it), answered by a reply: Centrifugo's acked upstream message.
			message = []byte(fmt.Sprintf(`{"id":%d,"publish":{"channel":"bench","data":{"s":%d}}}`, k.seq+1, k.seq))
		}
		k.writeMu.Lock()
		err := k.ws.WriteMessage(kind, message)
		k.writeMu.Unlock()
		if err == nil {
			sent++
		}
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	return sent, time.Since(started).Seconds()
}

func main() {
	// The heap only grows during a burst (one goroutine and buffers per socket): collecting it
	// less often keeps the client's CPU per connect low at 19,000 sockets.
	debug.SetGCPercent(400)
	var o options
	var sources string
	flag.StringVar(&o.server, "server", "vigil", "vigil | centrifugo")
	flag.StringVar(&o.url, "url", "", "ws:// URL of the server's socket endpoint")
	flag.StringVar(&o.tokensFile, "tokens", "", "file with one token per line; socket i uses line i mod lines")
	flag.IntVar(&o.sockets, "sockets", 1000, "sockets to open")
	flag.IntVar(&o.concurrency, "concurrency", 64, "connects in flight")
	flag.StringVar(&sources, "sources", "", "comma-separated loopback source addresses, used round robin")
	flag.StringVar(&o.latencies, "latencies", "", "file to write connect latencies to (uint32 µs, little endian)")
	flag.IntVar(&o.ackEvery, "ack-every", 0, "Vigil: ask for an ack on every k-th frame (0: never)")
	flag.Parse()
	for _, s := range strings.Split(sources, ",") {
		if ip := net.ParseIP(strings.TrimSpace(s)); ip != nil {
			o.sources = append(o.sources, ip)
		}
	}
	data, err := os.ReadFile(o.tokensFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer-client: -tokens:", err)
		os.Exit(2)
	}
	c := &client{opts: o, tokens: strings.Fields(string(data))}
	if len(c.tokens) == 0 {
		fmt.Fprintln(os.Stderr, "peer-client: -tokens: the file holds no token")
		os.Exit(2)
	}

	cpu0, t0 := cpuSeconds(), time.Now()
	c.connectAll()
	seconds, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	if o.latencies != "" {
		out := make([]byte, 4*len(c.latencyUs))
		for i, v := range c.latencyUs {
			binary.LittleEndian.PutUint32(out[4*i:], v)
		}
		_ = os.WriteFile(o.latencies, out, 0o644)
	}
	firstErr, _ := c.firstErr.Load().(string)
	emit(map[string]any{
		"phase": "connected", "ready": len(c.conns), "failed": c.failed.Load(), "seconds": seconds,
		"cpuSeconds": cpu, "rssBytes": rssBytes(), "firstError": firstErr,
	})

	stdin := bufio.NewScanner(os.Stdin)
	for stdin.Scan() {
		fields := strings.Fields(stdin.Text())
		if len(fields) == 3 && fields[0] == "stream" {
			var rate, secs float64
			fmt.Sscan(fields[1], &rate)
			fmt.Sscan(fields[2], &secs)
			acks0, replies0, cpu0 := c.acks.Load(), c.replies.Load(), cpuSeconds()
			sent, took := c.stream(rate, secs)
			emit(map[string]any{
				"phase": "streamed", "sent": sent, "seconds": took, "cpuSeconds": cpuSeconds() - cpu0,
				"acks": c.acks.Load() - acks0, "replies": c.replies.Load() - replies0, "closed": c.closed.Load(),
			})
			continue
		}
		break
	}
	closedBefore := c.closed.Load()
	for _, k := range c.conns {
		_ = k.ws.Close()
	}
	emit(map[string]any{"phase": "closed", "closedByServer": closedBefore})
}
