package main

import (
	"os"
	"path/filepath"
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

func mustParse(t *testing.T, s string) *ImageMap {
	t.Helper()
	m, err := ParseImageMap(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLayerUserOverBase(t *testing.T) {
	base := mustParse(t, `
redis:2.8=/s/redis-2.8.19/redis-server
redis:6.2=/s/redis-6.2.14/redis-server
redis:6.2.7=/s/redis-6.2.7/redis-server
redis:7.0=/usr/bin/redis-server
valkey/valkey:8.1=/s/valkey-8.1.8/valkey-server
`)
	user := mustParse(t, `
redis:6.2=/mine/redis-6.2
redis:=/mine/catch-all
ghcr.io/acme/op=/work/build/op
`)
	m := Layer(base, user)
	cases := map[string]string{
		"redis:6.2.14":                   "/mine/redis-6.2",             // same prefix: the user's entry wins
		"redis:6.2":                      "/mine/redis-6.2",             //
		"redis:6.2.7":                    "/s/redis-6.2.7/redis-server", // a longer base prefix still wins
		"redis:2.8":                      "/s/redis-2.8.19/redis-server",
		"docker.io/library/redis:7.0.15": "/usr/bin/redis-server",
		"redis:7.2":                      "/mine/catch-all", // no base entry: the user's shorter one
		"valkey/valkey:8.1.8":            "/s/valkey-8.1.8/valkey-server",
		"ghcr.io/acme/op:0.1.0":          "/work/build/op",
	}
	for img, want := range cases {
		if got, ok := m.Lookup(img); !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", img, got, ok, want)
		}
	}
	// Without the user's catch-all an image with no installed binary stays unmapped.
	m = Layer(base, mustParse(t, "ghcr.io/acme/op=/work/build/op\n"))
	for _, img := range []string{"redis:7.2", "redis", "redis:latest", "valkey/valkey:7.2", "redis@sha256:abc"} {
		if got, ok := m.Lookup(img); ok {
			t.Errorf("Lookup(%q) = %q; want no match", img, got)
		}
	}
	if got, _ := m.Lookup("redis:2.8.19"); got != "/s/redis-2.8.19/redis-server" {
		t.Errorf("Lookup(redis:2.8.19) = %q", got)
	}
	// Nil halves.
	if got, _ := Layer(nil, user).Lookup("redis:7.0"); got != "/mine/catch-all" {
		t.Errorf("Layer(nil, user): %q", got)
	}
	if got, _ := Layer(base, nil).Lookup("redis:7.0"); got != "/usr/bin/redis-server" {
		t.Errorf("Layer(base, nil): %q", got)
	}
	if n := len(Layer(base, user).Entries()); n != 7 {
		t.Errorf("Layer has %d entries, want 7 (base 5 + user 3 - 1 shared prefix)", n)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lookupVia(t *testing.T, s *imageMapSource, img string) (string, bool) {
	t.Helper()
	m, err := s.Get()
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return m.Lookup(img)
}

func TestImageMapSourceLayering(t *testing.T) {
	dir := t.TempDir()
	basePath, userPath := filepath.Join(dir, "image-map"), filepath.Join(dir, "user-map")
	writeFile(t, basePath, "redis:2.8=/s/redis-2.8.19/redis-server\nredis:7.0=/usr/bin/redis-server\n")
	writeFile(t, userPath, "ghcr.io/acme/op=/work/build/op\n")

	// Neither file: the old default, every redis:* to Debian's server.
	if got, ok := lookupVia(t, &imageMapSource{}, "redis:7.2"); !ok || got != DefaultRedisServer {
		t.Errorf("no maps: redis:7.2 -> %q, %v", got, ok)
	}
	// User map only (no servers installed): the default base stays under it.
	s := &imageMapSource{path: userPath}
	if got, ok := lookupVia(t, s, "redis:6.0"); !ok || got != DefaultRedisServer {
		t.Errorf("user only: redis:6.0 -> %q, %v", got, ok)
	}
	if got, _ := lookupVia(t, s, "ghcr.io/acme/op:1"); got != "/work/build/op" {
		t.Errorf("user only: op -> %q", got)
	}
	// Base only.
	s = &imageMapSource{basePath: basePath}
	if got, _ := lookupVia(t, s, "redis:2.8"); got != "/s/redis-2.8.19/redis-server" {
		t.Errorf("base only: redis:2.8 -> %q", got)
	}
	if got, ok := lookupVia(t, s, "redis:7.2"); ok {
		t.Errorf("base only: redis:7.2 -> %q, want no match", got)
	}
	// Both, then the user's file changes (a test adds its own binary): re-read.
	s = &imageMapSource{basePath: basePath, path: userPath}
	if got, _ := lookupVia(t, s, "redis:2.8.19"); got != "/s/redis-2.8.19/redis-server" {
		t.Errorf("both: redis:2.8.19 -> %q", got)
	}
	if _, ok := lookupVia(t, s, "redis:7.2"); ok {
		t.Error("both: redis:7.2 mapped, want no match")
	}
	writeFile(t, userPath, "ghcr.io/acme/op=/work/build/op\nredis:7.2=/opt/redis-7.2/redis-server\nredis:2.8=/opt/mine-2.8\n")
	if got, _ := lookupVia(t, s, "redis:7.2.4"); got != "/opt/redis-7.2/redis-server" {
		t.Errorf("after edit: redis:7.2.4 -> %q", got)
	}
	if got, _ := lookupVia(t, s, "redis:2.8.19"); got != "/opt/mine-2.8" {
		t.Errorf("after edit: the user's redis:2.8 should win over the base's: %q", got)
	}
	// The base file is rewritten (setup-servers.sh installed another server): re-read too.
	writeFile(t, basePath, "redis:2.8=/s/redis-2.8.19/redis-server\nredis:7.0=/usr/bin/redis-server\nredis:8.2=/s/redis-8.2.3/redis-server\n")
	if got, _ := lookupVia(t, s, "redis:8.2"); got != "/s/redis-8.2.3/redis-server" {
		t.Errorf("after base edit: redis:8.2 -> %q", got)
	}
	// A broken or missing file is an error naming it (the container waits ErrImagePull).
	writeFile(t, userPath, "no equals sign\n")
	if _, err := s.Get(); err == nil || !strings.Contains(err.Error(), userPath) {
		t.Errorf("broken user map: err %v", err)
	}
	if _, err := (&imageMapSource{basePath: filepath.Join(dir, "missing")}).Get(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing base map: err %v", err)
	}
}

func TestIsRedisServerValkey(t *testing.T) {
	for _, p := range []string{"/usr/bin/redis-server", "/s/redis-2.8.19/redis-server", "redis-server-6.2.7-linux-amd64",
		"/s/valkey-8.1.8/valkey-server", "valkey-server"} {
		if !IsRedisServer(p) {
			t.Errorf("IsRedisServer(%q) = false", p)
		}
	}
	for _, p := range []string{"/usr/bin/redis-cli", "/usr/bin/valkey-cli", "/bin/sh", "/usr/bin/redis-sentinel-x", "/opt/op"} {
		if IsRedisServer(p) {
			t.Errorf("IsRedisServer(%q) = true", p)
		}
	}
}
