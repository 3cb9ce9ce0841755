package main

import (
	"testing"
)

func TestIPAllocatorSequenceAndStable(t *testing.T) {
	a, err := NewIPAllocator("127.1.0.2", "127.1.255.254", "")
	if err != nil {
		t.Fatal(err)
	}
	ip1, _ := a.Allocate("ns/a")
	ip2, _ := a.Allocate("ns/b")
	again, _ := a.Allocate("ns/a")
	if ip1.String() != "127.1.0.2" || ip2.String() != "127.1.0.3" || again.String() != ip1.String() {
		t.Fatalf("got %v %v %v", ip1, ip2, again)
	}
	a.Release("ns/a")
	if _, ok := a.Lookup("ns/a"); ok {
		t.Fatal("released key still has an address")
	}
	// A freed address is not reused right away.
	ip3, _ := a.Allocate("ns/c")
	if ip3.String() != "127.1.0.4" {
		t.Fatalf("got %v want 127.1.0.4", ip3)
	}
}

func TestIPAllocatorSkipsDotZeroAnd255AndWraps(t *testing.T) {
	a, err := NewIPAllocator("127.1.0.254", "127.1.1.2", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range []string{"a", "b", "c"} {
		ip, err := a.Allocate(k)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	want := []string{"127.1.0.254", "127.1.1.1", "127.1.1.2"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	if _, err := a.Allocate("d"); err != ErrExhausted {
		t.Fatalf("want ErrExhausted, got %v", err)
	}
	a.Release("a")
	ip, err := a.Allocate("d")
	if err != nil || ip.String() != "127.1.0.254" {
		t.Fatalf("after wrap got %v %v", ip, err)
	}
}

func TestIPAllocatorLeasesAcrossAllocators(t *testing.T) {
	dir := t.TempDir()
	a, _ := NewIPAllocator("127.1.0.2", "127.1.0.10", dir)
	b, _ := NewIPAllocator("127.1.0.2", "127.1.0.10", dir)
	ipA, _ := a.Allocate("x")
	ipB, _ := b.Allocate("x")
	if ipA.Equal(ipB) {
		t.Fatalf("two allocators sharing a lease dir handed out %v twice", ipA)
	}
	a.Release("x")
	b.Release("x")
}

func TestIPAllocatorBadRange(t *testing.T) {
	if _, err := NewIPAllocator("127.1.0.10", "127.1.0.2", ""); err == nil {
		t.Fatal("want error")
	}
	if _, err := NewIPAllocator("::1", "127.1.0.2", ""); err == nil {
		t.Fatal("want error")
	}
}
