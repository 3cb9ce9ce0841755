package main

import "testing"

func TestTailLines(t *testing.T) {
	in := []byte("a\nb\nc\n")
	cases := map[int]string{0: "", 1: "c\n", 2: "b\nc\n", 3: "a\nb\nc\n", 10: "a\nb\nc\n"}
	for n, want := range cases {
		if got := string(tailLines(in, n)); got != want {
			t.Errorf("tailLines(%d) = %q; want %q", n, got, want)
		}
	}
	if got := string(tailLines([]byte("x\ny"), 1)); got != "y" {
		t.Errorf("no trailing newline: %q", got)
	}
}
