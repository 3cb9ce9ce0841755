package main

import "testing"

func TestExpand(t *testing.T) {
	env := map[string]string{"POD_IP": "127.1.0.2", "PORT": "6379", "EMPTY": ""}
	cases := []struct{ in, want string }{
		{"--bind $(POD_IP)", "--bind 127.1.0.2"},
		{"$(POD_IP):$(PORT)", "127.1.0.2:6379"},
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"$$(POD_IP)", "$(POD_IP)"},
		{"$$$(POD_IP)", "$127.1.0.2"},
		{"$$", "$"},
		{"a$b", "a$b"},
		{"$", "$"},
		{"x$", "x$"},
		{"$(POD_IP", "$(POD_IP"},
		{"$(EMPTY)x", "x"},
		{"$()", "$()"},
		{"no refs", "no refs"},
		{"$(PORT)$(PORT)", "63796379"},
	}
	for _, c := range cases {
		if got := Expand(c.in, MapLookup(env)); got != c.want {
			t.Errorf("Expand(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestMapLookupOrder(t *testing.T) {
	f := MapLookup(map[string]string{"A": "1"}, map[string]string{"A": "2", "B": "3"})
	if v, _ := f("A"); v != "1" {
		t.Errorf("A=%q", v)
	}
	if v, _ := f("B"); v != "3" {
		t.Errorf("B=%q", v)
	}
	if _, ok := f("C"); ok {
		t.Error("C found")
	}
}
