package main

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestRedisArgs(t *testing.T) {
	got := redisArgs(nil, "127.1.0.2", "/tmp/w")
	want := []string{"--bind", "127.1.0.2", "--port", "6379", "--save", "", "--appendonly", "no", "--dir", "/tmp/w"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("no args: got %q", got)
	}
	got = redisArgs([]string{"--port", "6380"}, "127.1.0.2", "/tmp/w")
	if !reflect.DeepEqual(got, []string{"--port", "6380", "--bind", "127.1.0.2"}) {
		t.Errorf("args without --bind: got %q", got)
	}
	in := []string{"--bind", "127.1.0.9", "--port", "6380"}
	if got = redisArgs(in, "127.1.0.2", "/tmp/w"); !reflect.DeepEqual(got, in) {
		t.Errorf("args with --bind: got %q", got)
	}
}

func TestArgv(t *testing.T) {
	mk := func(cmd, args []string) *ctr { return &ctr{spec: v1.Container{Command: cmd, Args: args}} }
	cases := []struct {
		c       *ctr
		mapped  string
		exe     string
		args    []string
		isRedis bool
	}{
		{mk(nil, []string{"--port", "1"}), "/usr/bin/redis-server", "/usr/bin/redis-server", []string{"--port", "1"}, true},
		{mk([]string{"redis-server"}, []string{"--port", "1"}), "/usr/bin/redis-server", "/usr/bin/redis-server", []string{"--port", "1"}, true},
		{mk([]string{"sh", "-c", "x"}, nil), "/usr/bin/redis-server", "sh", []string{"-c", "x"}, false},
		{mk([]string{"/manager"}, []string{"run"}), "/opt/op", "/opt/op", []string{"run"}, false},
		// Valkey: valkey-server is a redis-server (redisArgs applies); a valkey image's
		// `redis-server` command (a symlink there) runs the mapped valkey-server, not
		// the redis-server on this machine's PATH.
		{mk(nil, nil), "/s/valkey-8.1.8/valkey-server", "/s/valkey-8.1.8/valkey-server", nil, true},
		{mk([]string{"valkey-server"}, []string{"--port", "1"}), "/s/valkey-8.1.8/valkey-server", "/s/valkey-8.1.8/valkey-server", []string{"--port", "1"}, true},
		{mk([]string{"redis-server"}, []string{"--port", "1"}), "/s/valkey-8.1.8/valkey-server", "/s/valkey-8.1.8/valkey-server", []string{"--port", "1"}, true},
		{mk([]string{"redis-server"}, nil), "/s/redis-2.8.19/redis-server", "/s/redis-2.8.19/redis-server", nil, true},
		{mk([]string{"/no/such/entrypoint", "a"}, []string{"b"}), "/opt/op", "/opt/op", []string{"a", "b"}, false},
	}
	for i, c := range cases {
		exe, args, isRedis := c.c.argv(c.mapped)
		if exe != c.exe || !reflect.DeepEqual(args, c.args) && !(len(args) == 0 && len(c.args) == 0) || isRedis != c.isRedis {
			t.Errorf("case %d: got %q %q %v; want %q %q %v", i, exe, args, isRedis, c.exe, c.args, c.isRedis)
		}
	}
}
