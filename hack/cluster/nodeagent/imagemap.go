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

// DefaultRedisServer is the binary every redis:* image maps to when no image
// map file is given.
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

// IsRedisServer reports whether an executable is a redis-server binary.
func IsRedisServer(path string) bool {
	return strings.HasPrefix(filepath.Base(path), "redis-server")
}

// imageMapSource loads the image map from LOCAL_CLUSTER_IMAGE_MAP (reloading
// when the file changes) or falls back to the default map.
type imageMapSource struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	size int64
	m    *ImageMap
	err  error
}

func (s *imageMapSource) Get() (*ImageMap, error) {
	if s.path == "" {
		return DefaultImageMap(DefaultRedisServer), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := os.Stat(s.path)
	if err != nil {
		return nil, fmt.Errorf("image map %s: %w", s.path, err)
	}
	if s.m != nil && st.ModTime().Equal(s.mod) && st.Size() == s.size {
		return s.m, s.err
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("image map %s: %w", s.path, err)
	}
	defer f.Close()
	m, err := ParseImageMap(f)
	if err != nil {
		err = fmt.Errorf("image map %s: %w", s.path, err)
	}
	s.m, s.err, s.mod, s.size = m, err, st.ModTime(), st.Size()
	return m, err
}
