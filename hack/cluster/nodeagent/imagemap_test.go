package main

import (
	"strings"
	"testing"
)

func TestParseImageMapLongestPrefix(t *testing.T) {
	m, err := ParseImageMap(strings.NewReader(`
# comment
redis:=/usr/bin/redis-server
redis:7.0=/opt/redis-7.0/bin/redis-server
 redis:7.0.15 = /opt/redis-7.0.15/redis-server
ghcr.io/acme/redis-upgrade-operator=/work/build/redis-upgrade-operator
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"redis:7.0.15":                  "/opt/redis-7.0.15/redis-server",
		"redis:7.0.11":                  "/opt/redis-7.0/bin/redis-server",
		"redis:7.2":                     "/usr/bin/redis-server",
		"redis":                         "/usr/bin/redis-server", // normalized to redis:latest
		"docker.io/library/redis:7.0.1": "/opt/redis-7.0/bin/redis-server",
		"ghcr.io/acme/redis-upgrade-operator:dev": "/work/build/redis-upgrade-operator",
	}
	for img, want := range cases {
		got, ok := m.Lookup(img)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", img, got, ok, want)
		}
	}
	for _, img := range []string{"nginx:1.25", "redisx", "quay.io/redis:7"} {
		if got, ok := m.Lookup(img); ok {
			t.Errorf("Lookup(%q) = %q; want no match", img, got)
		}
	}
}

func TestParseImageMapErrors(t *testing.T) {
	for _, in := range []string{"redis:7.0", "=/usr/bin/x", "redis:7.0="} {
		if _, err := ParseImageMap(strings.NewReader(in)); err == nil {
			t.Errorf("ParseImageMap(%q): want error", in)
		}
	}
}

func TestParseImageMapLaterLineWins(t *testing.T) {
	m, err := ParseImageMap(strings.NewReader("redis:=/a\nredis:=/b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Lookup("redis:7"); got != "/b" {
		t.Fatalf("got %q want /b", got)
	}
}

func TestDefaultImageMap(t *testing.T) {
	m := DefaultImageMap("/usr/bin/redis-server")
	for _, img := range []string{"redis:7.0", "redis:6.2.14-alpine", "redis", "docker.io/library/redis:7", "redis@sha256:abc"} {
		if got, ok := m.Lookup(img); !ok || got != "/usr/bin/redis-server" {
			t.Errorf("Lookup(%q) = %q, %v", img, got, ok)
		}
	}
	for _, img := range []string{"busybox", "bitnami/redis:7.0", "redis-operator:1"} {
		if _, ok := m.Lookup(img); ok {
			t.Errorf("Lookup(%q): want no match", img)
		}
	}
	if !IsRedisServer("/usr/bin/redis-server") || IsRedisServer("/usr/bin/redis-cli") {
		t.Error("IsRedisServer")
	}
}
