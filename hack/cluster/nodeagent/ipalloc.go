package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// IPAllocator hands out IPv4 addresses from [first, last], one per key. It
// walks forward from the last allocation (like a cluster IPAM, so a freed
// address is not immediately reused), skips addresses ending in .0 and .255,
// and, when leaseDir is set, takes an flock lease file per address so two
// node agents on the same machine never hand out the same address. Leases die
// with the process.
type IPAllocator struct {
	mu       sync.Mutex
	first    uint32
	last     uint32
	next     uint32
	byKey    map[string]uint32
	used     map[uint32]string
	leaseDir string
	leases   map[uint32]*os.File
}

// ErrExhausted is returned when no address is left.
var ErrExhausted = errors.New("ip range exhausted")

func ip4ToU32(ip net.IP) (uint32, error) {
	v4 := ip.To4()
	if v4 == nil {
		return 0, fmt.Errorf("%v is not an IPv4 address", ip)
	}
	return binary.BigEndian.Uint32(v4), nil
}

func u32ToIP(v uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, v)
	return ip
}

// NewIPAllocator builds an allocator for the inclusive range [first, last].
func NewIPAllocator(first, last string, leaseDir string) (*IPAllocator, error) {
	f, err := ip4ToU32(net.ParseIP(first))
	if err != nil {
		return nil, err
	}
	l, err := ip4ToU32(net.ParseIP(last))
	if err != nil {
		return nil, err
	}
	if l < f {
		return nil, fmt.Errorf("empty range %s-%s", first, last)
	}
	if leaseDir != "" {
		os.MkdirAll(leaseDir, 0o777)
		os.Chmod(leaseDir, 0o1777) // shared by every user's agents, like /tmp
		probe, err := os.CreateTemp(leaseDir, ".probe")
		if err != nil {
			// Not writable (another user's dir): allocate without leases.
			fmt.Fprintf(os.Stderr, "warning: lease dir %s not usable (%v): loopback addresses are not coordinated with other agents\n", leaseDir, err)
			leaseDir = ""
		} else {
			probe.Close()
			os.Remove(probe.Name())
		}
	}
	return &IPAllocator{first: f, last: l, next: f, byKey: map[string]uint32{}, used: map[uint32]string{},
		leaseDir: leaseDir, leases: map[uint32]*os.File{}}, nil
}

func usable(v uint32) bool { b := v & 0xff; return b != 0 && b != 255 }

// Allocate returns key's address, allocating one if key has none.
func (a *IPAllocator) Allocate(key string) (net.IP, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := a.byKey[key]; ok {
		return u32ToIP(v), nil
	}
	size := uint64(a.last) - uint64(a.first) + 1
	v := a.next
	for i := uint64(0); i < size; i++ {
		cand := v
		if v == a.last {
			v = a.first
		} else {
			v++
		}
		if !usable(cand) {
			continue
		}
		if _, taken := a.used[cand]; taken {
			continue
		}
		if !a.lease(cand) {
			continue
		}
		a.used[cand] = key
		a.byKey[key] = cand
		a.next = v
		return u32ToIP(cand), nil
	}
	return nil, ErrExhausted
}

func (a *IPAllocator) lease(v uint32) bool {
	if a.leaseDir == "" {
		return true
	}
	p := filepath.Join(a.leaseDir, u32ToIP(v).String())
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	a.leases[v] = f
	return true
}

// Lookup returns key's address if it has one.
func (a *IPAllocator) Lookup(key string) (net.IP, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.byKey[key]
	if !ok {
		return nil, false
	}
	return u32ToIP(v), true
}

// Release frees key's address (no-op if it has none).
func (a *IPAllocator) Release(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.byKey[key]
	if !ok {
		return
	}
	delete(a.byKey, key)
	delete(a.used, v)
	if f := a.leases[v]; f != nil {
		os.Remove(f.Name())
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		delete(a.leases, v)
	}
}
