package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// kubeletServer serves the one kubelet API the apiserver needs for
// `kubectl logs`: GET /containerLogs/{namespace}/{pod}/{container}
// (follow, tailLines, limitBytes, previous). It listens on 127.0.0.1 only,
// with a throwaway self-signed cert (the apiserver is not given a kubelet CA).
// exec, attach and port-forward answer 501.
func (a *Agent) startKubeletServer(ctx context.Context) (int, error) {
	cert, err := selfSignedCert()
	if err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", a.serveLogs)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not supported by the ruo node agent (only /containerLogs): no exec, attach or port-forward; "+
			"pods are local processes, reach them on their podIP", http.StatusNotImplemented)
	})
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			klog.Errorf("kubelet server: %v", err)
		}
	}()
	go func() { <-ctx.Done(); srv.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "ruo-nodeagent"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func (a *Agent) findContainer(ns, pod, name string) *ctr {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if w.ns != ns || w.name != pod {
			continue
		}
		for _, c := range append(append([]*ctr{}, w.inits...), w.ctrs...) {
			if c.spec.Name == name {
				return c
			}
		}
	}
	return nil
}

func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if len(parts) != 3 {
		http.Error(w, "want /containerLogs/{namespace}/{pod}/{container}", http.StatusBadRequest)
		return
	}
	c := a.findContainer(parts[0], parts[1], parts[2])
	if c == nil {
		http.Error(w, fmt.Sprintf("container %s in pod %s/%s not found on this node", parts[2], parts[0], parts[1]), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	follow := q.Get("follow") == "true"
	previous := q.Get("previous") == "true"
	c.mu.Lock()
	starts := append([]int64(nil), c.logStarts...)
	run := c.runs
	c.mu.Unlock()
	f, err := os.Open(c.logPath())
	if err != nil {
		http.Error(w, "no logs yet: "+err.Error(), http.StatusNotFound)
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	from, to := int64(0), st.Size()
	if n := len(starts); n > 0 {
		from = starts[n-1]
		if previous {
			if n < 2 {
				http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", parts[2], parts[1]), http.StatusBadRequest)
				return
			}
			from, to = starts[n-2], starts[n-1]
			follow = false
		}
	}
	data := make([]byte, to-from)
	if _, err := f.ReadAt(data, from); err != nil && err != io.EOF {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if s := q.Get("tailLines"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			data = tailLines(data, n)
		}
	}
	if s := q.Get("limitBytes"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(data) {
			data = data[:n]
			follow = false
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(data)
	if !follow {
		return
	}
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	off := to
	buf := make([]byte, 32<<10)
	for {
		n, _ := f.ReadAt(buf, off)
		if n > 0 {
			w.Write(buf[:n])
			off += int64(n)
			if fl != nil {
				fl.Flush()
			}
			continue
		}
		c.mu.Lock()
		ended := c.runs != run || c.pid == 0
		c.mu.Unlock()
		if ended {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tailLines(b []byte, n int) []byte {
	if n == 0 {
		return nil
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	count := 0
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			count++
			if count == n {
				return b[i+1:]
			}
		}
	}
	return b
}
