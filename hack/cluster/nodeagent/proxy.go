package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Proxy plays kube-proxy: every ClusterIP Service gets its own loopback VIP
// (stable per namespace/name for the life of the agent) with a listener per
// TCP service port; each accepted connection is forwarded to one of the
// Service's ready endpoints at that moment. Established connections keep
// their backend when the endpoints change, as with kube-proxy's conntrack.
//
// Endpoints come from the Service's EndpointSlices (label
// kubernetes.io/service-name), as kube-proxy reads them: ready endpoints, or if
// there are none the serving+terminating ones; the port is the slice port with
// the service port's name (the endpointslice controller has already resolved
// named and numeric targetPorts). Only loopback addresses are ever dialled.
type Proxy struct {
	cfg       config
	svcs      corelisters.ServiceLister
	pods      corelisters.PodLister
	slices    discoverylisters.EndpointSliceLister
	vips      *IPAllocator
	vipsFile  string
	hostsFile string

	mu        sync.Mutex
	entries   map[string]*svcEntry
	started   bool
	ctx       context.Context
	lastVips  string
	lastHosts string
	closed    bool
	writeMu   sync.Mutex
}

type svcEntry struct {
	key       string
	ip        string
	listeners map[string]*portListener // "port/TCP"
	backends  atomic.Pointer[map[string][]string]
	rr        atomic.Uint64
}

type portListener struct {
	ln       net.Listener
	portName string
}

func newProxy(cfg config, svcs corelisters.ServiceLister, pods corelisters.PodLister, slices discoverylisters.EndpointSliceLister) (*Proxy, error) {
	vips, err := NewIPAllocator(cfg.vipFirst, cfg.vipLast, filepath.Join(cfg.leaseDir, "vips"))
	if err != nil {
		return nil, err
	}
	return &Proxy{cfg: cfg, svcs: svcs, pods: pods, slices: slices, vips: vips,
		vipsFile:  filepath.Join(cfg.stateDir, "vips"),
		hostsFile: filepath.Join(cfg.stateDir, "hosts"),
		entries:   map[string]*svcEntry{}}, nil
}

func (p *Proxy) start(ctx context.Context) {
	p.mu.Lock()
	p.started = true
	p.ctx = ctx
	p.mu.Unlock()
	p.resyncAll()
	go func() {
		t := time.NewTicker(3 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.resyncAll()
			}
		}
	}()
}

func (p *Proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, e := range p.entries {
		for _, l := range e.listeners {
			l.ln.Close()
		}
	}
}

func (p *Proxy) resyncAll() {
	svcs, err := p.svcs.List(labels.Everything())
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, s := range svcs {
		k := s.Namespace + "/" + s.Name
		seen[k] = true
		p.syncService(k)
	}
	p.mu.Lock()
	var gone []string
	for k := range p.entries {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	p.mu.Unlock()
	for _, k := range gone {
		p.syncService(k)
	}
	p.writeFiles()
}

func objKey(o interface{}) (string, string) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	switch x := o.(type) {
	case *v1.Service:
		return x.Namespace, x.Name
	case *v1.Pod:
		return x.Namespace, x.Name
	}
	return "", ""
}

func (p *Proxy) isStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started && !p.closed
}

func (p *Proxy) serviceChanged(o interface{}) {
	if !p.isStarted() {
		return
	}
	ns, name := objKey(o)
	p.syncService(ns + "/" + name)
	p.writeFiles()
}

// podChanged refreshes the hosts file (pod hostnames).
func (p *Proxy) podChanged(o interface{}) {
	if !p.isStarted() {
		return
	}
	p.writeFiles()
}

// sliceChanged re-reads the endpoints of the slice's Service.
func (p *Proxy) sliceChanged(o interface{}) {
	if !p.isStarted() {
		return
	}
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	es, ok := o.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	name := es.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return
	}
	key := es.Namespace + "/" + name
	p.mu.Lock()
	e := p.entries[key]
	p.mu.Unlock()
	if e == nil {
		return
	}
	if svc, err := p.svcs.Services(es.Namespace).Get(name); err == nil {
		p.updateBackends(e, svc)
	}
}

func hasVIP(s *v1.Service) bool {
	return s.Spec.Type != v1.ServiceTypeExternalName && s.Spec.ClusterIP != "" && s.Spec.ClusterIP != v1.ClusterIPNone
}

func (p *Proxy) syncService(key string) {
	parts := strings.SplitN(key, "/", 2)
	if len(parts) != 2 {
		return
	}
	svc, err := p.svcs.Services(parts[0]).Get(parts[1])
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	e := p.entries[key]
	if err != nil || !hasVIP(svc) {
		if e != nil {
			for _, l := range e.listeners {
				l.ln.Close()
			}
			delete(p.entries, key)
			klog.Infof("proxy: removed %s", key)
		}
		return // the VIP stays reserved for this name for the agent's life
	}
	if e == nil {
		ip, err := p.vips.Allocate(key)
		if err != nil {
			klog.Errorf("proxy: no VIP for %s: %v", key, err)
			return
		}
		e = &svcEntry{key: key, ip: ip.String(), listeners: map[string]*portListener{}}
		empty := map[string][]string{}
		e.backends.Store(&empty)
		p.entries[key] = e
		klog.Infof("proxy: %s -> VIP %s", key, e.ip)
	}
	want := map[string]v1.ServicePort{}
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != v1.ProtocolTCP {
			continue
		}
		want[fmt.Sprintf("%d/TCP", sp.Port)] = sp
	}
	for k, l := range e.listeners {
		if sp, ok := want[k]; !ok || sp.Name != l.portName {
			l.ln.Close()
			delete(e.listeners, k)
		}
	}
	for k, sp := range want {
		if _, ok := e.listeners[k]; ok {
			continue
		}
		ln, err := net.Listen("tcp", hostPort(e.ip, sp.Port))
		if err != nil {
			klog.Warningf("proxy: listen %s for %s: %v (will retry)", hostPort(e.ip, sp.Port), key, err)
			continue
		}
		pl := &portListener{ln: ln, portName: sp.Name}
		e.listeners[k] = pl
		go p.serve(e, pl)
	}
	p.updateBackendsLocked(e, svc)
}

func (p *Proxy) updateBackends(e *svcEntry, svc *v1.Service) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries[e.key] != e {
		return
	}
	p.updateBackendsLocked(e, svc)
}

func isLoopback(ip string) bool {
	a := net.ParseIP(ip)
	return a != nil && a.IsLoopback()
}

// computeBackends lists "ip:port" backends per service port name from the
// Service's EndpointSlices.
func (p *Proxy) computeBackends(svc *v1.Service) map[string][]string {
	out := map[string][]string{}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name})
	slices, err := p.slices.EndpointSlices(svc.Namespace).List(sel)
	if err != nil {
		return out
	}
	ready := map[string][]string{}
	fallback := map[string][]string{} // serving and terminating
	for _, sl := range slices {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, ep := range sl.Endpoints {
			if len(ep.Addresses) == 0 || !isLoopback(ep.Addresses[0]) {
				continue
			}
			isReady := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			serving := ep.Conditions.Serving != nil && *ep.Conditions.Serving
			terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			for _, sp := range svc.Spec.Ports {
				proto := sp.Protocol
				if proto == "" {
					proto = v1.ProtocolTCP
				}
				for _, pp := range sl.Ports {
					name := ""
					if pp.Name != nil {
						name = *pp.Name
					}
					pproto := v1.ProtocolTCP
					if pp.Protocol != nil {
						pproto = *pp.Protocol
					}
					if name != sp.Name || pproto != proto || pp.Port == nil {
						continue
					}
					addr := hostPort(ep.Addresses[0], *pp.Port)
					if isReady {
						ready[sp.Name] = append(ready[sp.Name], addr)
					} else if serving && terminating {
						fallback[sp.Name] = append(fallback[sp.Name], addr)
					}
				}
			}
		}
	}
	for _, sp := range svc.Spec.Ports {
		bs := ready[sp.Name]
		if len(bs) == 0 {
			bs = fallback[sp.Name]
		}
		if len(bs) == 0 {
			continue
		}
		sort.Strings(bs)
		out[sp.Name] = dedup(bs)
	}
	return out
}

func dedup(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func (p *Proxy) updateBackendsLocked(e *svcEntry, svc *v1.Service) {
	b := p.computeBackends(svc)
	old := e.backends.Load()
	if old != nil && fmt.Sprint(*old) == fmt.Sprint(b) {
		return
	}
	e.backends.Store(&b)
	klog.Infof("proxy: %s (%s) endpoints %v", e.key, e.ip, b)
}

func (p *Proxy) serve(e *svcEntry, pl *portListener) {
	for {
		conn, err := pl.ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return // listener closed
		}
		go p.forward(e, pl.portName, conn)
	}
}

func (p *Proxy) forward(e *svcEntry, portName string, in net.Conn) {
	bs := (*e.backends.Load())[portName]
	if len(bs) == 0 {
		in.Close() // no ready endpoint: refuse
		return
	}
	start := int(e.rr.Add(1))
	var out net.Conn
	var err error
	for i := 0; i < len(bs); i++ {
		addr := bs[(start+i)%len(bs)]
		out, err = net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			break
		}
	}
	if out == nil {
		klog.V(2).Infof("proxy: %s: no backend reachable: %v", e.key, err)
		in.Close()
		return
	}
	pipe := func(dst, src net.Conn, done chan struct{}) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		close(done)
	}
	d1, d2 := make(chan struct{}), make(chan struct{})
	go pipe(out, in, d1)
	go pipe(in, out, d2)
	<-d1
	<-d2
	in.Close()
	out.Close()
}

// writeFiles atomically rewrites $RUO_CLUSTER_DIR/vips ("namespace/name IP"
// lines) and $RUO_CLUSTER_DIR/hosts (hosts-file lines for the VIPs and for
// pods with a hostname and subdomain) when their content changes.
func (p *Proxy) writeFiles() {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.mu.Lock()
	var vl, hl []string
	for k, e := range p.entries {
		vl = append(vl, k+" "+e.ip)
		parts := strings.SplitN(k, "/", 2)
		hl = append(hl, fmt.Sprintf("%s %s.%s.svc.cluster.local %s.%s.svc", e.ip, parts[1], parts[0], parts[1], parts[0]))
	}
	p.mu.Unlock()
	if pods, err := p.pods.List(labels.Everything()); err == nil {
		for _, pod := range pods {
			if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
				continue
			}
			if pod.Spec.Hostname != "" && pod.Spec.Subdomain != "" {
				hl = append(hl, fmt.Sprintf("%s %s.%s.%s.svc.cluster.local %s.%s.%s.svc", pod.Status.PodIP,
					pod.Spec.Hostname, pod.Spec.Subdomain, pod.Namespace, pod.Spec.Hostname, pod.Spec.Subdomain, pod.Namespace))
			}
		}
	}
	sort.Strings(vl)
	sort.Strings(hl)
	vips := strings.Join(vl, "\n")
	hosts := strings.Join(hl, "\n")
	if len(vl) > 0 {
		vips += "\n"
	}
	if len(hl) > 0 {
		hosts += "\n"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if vips != p.lastVips || p.lastVips == "" {
		if err := atomicWrite(p.vipsFile, []byte(vips), 0o644); err != nil {
			klog.Warningf("write %s: %v", p.vipsFile, err)
		} else {
			p.lastVips = vips
		}
	}
	if hosts != p.lastHosts || p.lastHosts == "" {
		if err := atomicWrite(p.hostsFile, []byte(hosts), 0o644); err == nil {
			p.lastHosts = hosts
		}
	}
}
