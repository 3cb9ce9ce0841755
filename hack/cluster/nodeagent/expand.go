package main

import "strings"

// Expand replaces $(VAR) references in input the way Kubernetes expands
// container command, args and env values: $(VAR) becomes the value of VAR if
// mapping knows it and stays "$(VAR)" verbatim otherwise; "$$" is an escaped
// "$" (so "$$(VAR)" yields the literal "$(VAR)"); any other "$" is kept.
func Expand(input string, mapping func(string) (string, bool)) string {
	var b strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] != '$' || cursor+1 >= len(input) {
			continue
		}
		b.WriteString(input[checkpoint:cursor])
		rest := input[cursor+1:]
		advance := 1
		switch rest[0] {
		case '$':
			b.WriteByte('$')
		case '(':
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				b.WriteString("$(")
			} else {
				name := rest[1:end]
				if v, ok := mapping(name); ok {
					b.WriteString(v)
				} else {
					b.WriteString("$(" + name + ")")
				}
				advance = end + 1
			}
		default:
			b.WriteByte('$')
			b.WriteByte(rest[0])
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	b.WriteString(input[checkpoint:])
	return b.String()
}

// MapLookup returns a mapping function over the given maps, first match wins.
func MapLookup(maps ...map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, m := range maps {
			if v, ok := m[name]; ok {
				return v, true
			}
		}
		return "", false
	}
}
