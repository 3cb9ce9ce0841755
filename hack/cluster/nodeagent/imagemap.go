package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultRedisServer is the binary every redis:* image maps to when there is
// no base image map (the servers hack/setup-servers.sh installs).
const DefaultRedisServer = "/usr/bin/redis-server"

// ImageMap maps container images to local executables by longest image-prefix
// match. Lines look like `IMAGE=PATH`; `#` starts a comment.
type ImageMap struct {
	entries []imageEntry // sorted by prefix length, longest first
}

type imageEntry struct {
	Prefix string
	Path   string
}

// ParseImageMap reads IMAGE=PATH lines. Blank lines and lines starting with
// '#' are ignored. Whitespace around IMAGE and PATH is trimmed. A later line
// with the same IMAGE overrides an earlier one.
func ParseImageMap(r io.Reader) (*ImageMap, error) {
	byPrefix := map[string]string{}
	var order []string
	sc := bufio.NewScanner(r)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.Index(line, "=")
		if i < 0 {
			return nil, fmt.Errorf("line %d: want IMAGE=PATH, got %q", lineNo, line)
		}
		img := strings.TrimSpace(line[:i])
		path := strings.TrimSpace(line[i+1:])
		if img == "" || path == "" {
			return nil, fmt.Errorf("line %d: empty image or path in %q", lineNo, line)
		}
		if _, seen := byPrefix[img]; !seen {
			order = append(order, img)
		}
		byPrefix[img] = path
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	m := &ImageMap{}
	for _, img := range order {
		m.entries = append(m.entries, imageEntry{Prefix: img, Path: byPrefix[img]})
	}
	m.sort()
	return m, nil
}

// DefaultImageMap maps every redis:* image (and bare "redis") to redisPath.
func DefaultImageMap(redisPath string) *ImageMap {
	m := &ImageMap{entries: []imageEntry{{Prefix: "redis:", Path: redisPath}, {Prefix: "redis@", Path: redisPath}}}
	m.sort()
	return m
}

// Layer returns the map with over's entries laid over base's: an entry of
// over replaces a base entry with the same prefix, the other entries of both
// stay, and the longest matching prefix still wins overall. Either may be nil.
func Layer(base, over *ImageMap) *ImageMap {
	m := &ImageMap{}
	seen := map[string]bool{}
	if over != nil {
		for _, e := range over.entries {
			seen[e.Prefix] = true
			m.entries = append(m.entries, e)
		}
	}
	if base != nil {
		for _, e := range base.entries {
			if !seen[e.Prefix] {
				m.entries = append(m.entries, e)
			}
		}
	}
	m.sort()
	return m
}

func (m *ImageMap) sort() {
	sort.SliceStable(m.entries, func(i, j int) bool { return len(m.entries[i].Prefix) > len(m.entries[j].Prefix) })
}

// Entries returns a copy of the entries, longest prefix first.
func (m *ImageMap) Entries() []imageEntry { return append([]imageEntry(nil), m.entries...) }

// Lookup returns the executable for image. The image is tried as written and
// then in normalized form (docker.io/library/ stripped, ":latest" added when no
// tag or digest is given), longest prefix first.
func (m *ImageMap) Lookup(image string) (string, bool) {
	for _, cand := range imageCandidates(image) {
		for _, e := range m.entries {
			if strings.HasPrefix(cand, e.Prefix) {
				return e.Path, true
			}
		}
	}
	return "", false
}

func imageCandidates(image string) []string {
	out := []string{image}
	n := image
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if strings.HasPrefix(n, p) {
			n = strings.TrimPrefix(n, p)
			break
		}
	}
	last := n
	if i := strings.LastIndex(n, "/"); i >= 0 {
		last = n[i+1:]
	}
	if !strings.Contains(last, ":") && !strings.Contains(n, "@") {
		n += ":latest"
	}
	if n != image {
		out = append(out, n)
	}
	return out
}

// IsRedisServer reports whether an executable is a Redis server binary:
// redis-server, or Valkey's valkey-server (same flags, same defaults here).
func IsRedisServer(path string) bool {
	b := filepath.Base(path)
	return strings.HasPrefix(b, "redis-server") || strings.HasPrefix(b, "valkey-server")
}

// imageMapSource is the agent's image map: the user's map
// (LOCAL_CLUSTER_IMAGE_MAP) laid over the base map
// (LOCAL_CLUSTER_BASE_IMAGE_MAP, the installed servers' image-map file). Each
// file is re-read when it changes. With no base file the base is
// DefaultImageMap(DefaultRedisServer); with no user file the base alone counts.
type imageMapSource struct {
	basePath string
	path     string
	mu       sync.Mutex
	base     imageMapFile
	user     imageMapFile
}

// imageMapFile caches one parsed map file, keyed by its mtime and size.
type imageMapFile struct {
	mod  time.Time
	size int64
	m    *ImageMap
	err  error
}

// load returns the map in path, parsing it again only when it changed.
func (f *imageMapFile) load(path string) (*ImageMap, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("image map %s: %w", path, err)
	}
	if (f.m != nil || f.err != nil) && st.ModTime().Equal(f.mod) && st.Size() == f.size {
		return f.m, f.err
	}
	r, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image map %s: %w", path, err)
	}
	defer r.Close()
	m, err := ParseImageMap(r)
	if err != nil {
		err = fmt.Errorf("image map %s: %w", path, err)
	}
	f.m, f.err, f.mod, f.size = m, err, st.ModTime(), st.Size()
	return m, err
}

func (s *imageMapSource) Get() (*ImageMap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	base := DefaultImageMap(DefaultRedisServer)
	if s.basePath != "" {
		m, err := s.base.load(s.basePath)
		if err != nil {
			return nil, err
		}
		base = m
	}
	if s.path == "" {
		return base, nil
	}
	user, err := s.user.load(s.path)
	if err != nil {
		return nil, err
	}
	return Layer(base, user), nil
}
