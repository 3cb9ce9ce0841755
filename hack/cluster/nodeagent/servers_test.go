package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installedServers reads servers.tsv from the servers dir of
// hack/setup-servers.sh; nil when none are installed.
func installedServers(t *testing.T) (dir string, servers [][3]string) {
	dir = os.Getenv("RUO_SERVERS_DIR")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "redis-upgrade-operator", "servers")
	}
	f, err := os.Open(filepath.Join(dir, "servers.tsv"))
	if err != nil {
		return dir, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 3 {
			t.Fatalf("servers.tsv: bad line %q", sc.Text())
		}
		servers = append(servers, [3]string{fs[0], fs[1], fs[2]})
	}
	return dir, servers
}

// redisInfo sends INFO server and returns the bulk-string reply.
func redisInfo(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "INFO server\r\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	var n int
	if _, err := fmt.Sscanf(head, "$%d\r\n", &n); err != nil {
		return "", fmt.Errorf("reply %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return string(body), nil
}

// Every installed server (redis 2.8 included, which refuses flags it does not
// know, e.g. --protected-mode) starts with exactly the argv the agent gives a
// redis-server container with no args, and answers INFO with its version.
func TestInstalledServersAcceptAgentArgs(t *testing.T) {
	dir, servers := installedServers(t)
	if len(servers) == 0 {
		t.Skipf("no servers installed in %s (hack/setup-servers.sh)", dir)
	}
	for i, s := range servers {
		engine, version, path := s[0], s[1], s[2]
		t.Run(engine+"-"+version, func(t *testing.T) {
			if !IsRedisServer(path) {
				t.Fatalf("IsRedisServer(%q) = false", path)
			}
			// A loopback address outside the agent's pod (127.1/16) and VIP
			// (127.2/16) ranges, so 6379 is free there.
			ip := fmt.Sprintf("127.3.%d.%d", os.Getpid()%250+1, i+1)
			work := t.TempDir()
			args := redisArgs(nil, ip, work)
			cmd := exec.Command(path, args...)
			cmd.Dir = work
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() { cmd.Process.Kill(); <-exited }()
			addr := net.JoinHostPort(ip, "6379")
			var info string
			deadline := time.Now().Add(5 * time.Second)
			for {
				select {
				case err := <-exited:
					exited <- err
					t.Fatalf("%s %q exited (%v): %s", path, args, err, out.String())
				default:
				}
				r, err := redisInfo(addr)
				if err == nil {
					info = r
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s on %s: no INFO answer in 5 s (%v); log: %s", path, addr, err, out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			want := engine + "_version:" + version + "\r\n" // valkey also reports a redis_version for clients
			if !strings.Contains(info, want) {
				t.Errorf("INFO server of %s has no %q:\n%s", path, strings.TrimSpace(want), info)
			}
		})
	}
}
