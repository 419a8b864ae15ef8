package alias

import (
	"slices"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

func mustPath(t testing.TB, s string) value.Path {
	t.Helper()
	p, err := value.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// genLines renders the aliases a shape generates as "name -> path[!]".
func genLines(t *testing.T, shape string, macros map[string]string) []string {
	t.Helper()
	nodes, err := parseShape(shape, macros, "test")
	if err != nil {
		t.Fatalf("parseShape: %v", err)
	}
	var out []string
	genShape(nodes, func(prop string, p value.Path, mod bool) {
		s := prop + " -> " + p.String()
		if mod {
			s += " !"
		}
		out = append(out, s)
	})
	return out
}

func TestShapeRule(t *testing.T) {
	tests := []struct {
		name  string
		shape string
		want  []string
	}{
		{"flattened properties and top-level members",
			`^properties {a b {c}} sku {name}`,
			[]string{"a -> properties.a", "b -> properties.b", "b.c -> properties.b.c", "sku -> sku", "sku.name -> sku.name"}},
		{"arrays give plain and [*] forms",
			`^properties {ips[] {value} m[][]}`,
			[]string{"ips -> properties.ips", "ips[*] -> properties.ips[*]", "ips[*].value -> properties.ips[*].value",
				"m -> properties.m", "m[*] -> properties.m[*]", "m[*][*] -> properties.m[*][*]"}},
		{"hidden nested properties",
			`^properties {pecs[] {id ^properties {state {status}}}}`,
			[]string{"pecs -> properties.pecs", "pecs[*] -> properties.pecs[*]", "pecs[*].id -> properties.pecs[*].id",
				"pecs[*].state -> properties.pecs[*].properties.state", "pecs[*].state.status -> properties.pecs[*].properties.state.status"}},
		{"variants: name only, no bare alias under a flattened object",
			`^properties {@Sweep|Command {timeout} cred {@Key {key} type}}`,
			[]string{"Sweep.timeout -> properties.timeout", "Command.timeout -> properties.timeout",
				"cred -> properties.cred", "cred.Key -> properties.cred", "cred.Key.key -> properties.cred.key", "cred.type -> properties.cred.type"}},
		{"nested variants",
			`@A {@B {x}} o {@C {@D {y}}}`,
			[]string{"A.B.x -> x", "o -> o", "o.C -> o", "o.C.D -> o", "o.C.D.y -> o.y"}},
		{"rename, modifiable, comments",
			`^properties {
				peerings=Peerings[]! // payload key spelled differently
				x!
			}`,
			[]string{"peerings -> properties.Peerings !", "peerings[*] -> properties.Peerings[*] !", "x -> properties.x !"}},
		{"macros splice",
			`^properties {e {$err} f {$err extra}}`,
			[]string{"e -> properties.e", "e.code -> properties.e.code", "f -> properties.f", "f.code -> properties.f.code", "f.extra -> properties.f.extra"}},
		{"no properties wrapper (data-plane component)",
			`model {assetId} tags[]`,
			[]string{"model -> model", "model.assetId -> model.assetId", "tags -> tags", "tags[*] -> tags[*]"}},
	}
	macros := map[string]string{"err": "code"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := genLines(t, tt.shape, macros)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

func TestShapeErrors(t *testing.T) {
	macros := map[string]string{"loop": "a $loop", "bad": "x {"}
	tests := []struct{ shape, want string }{
		{`a {b`, "missing '}'"},
		{`a }`, "unexpected '}'"},
		{`a b a`, `duplicate member "a"`},
		{`@V {x} @v {y}`, `duplicate member "@v"`},
		{`$nope`, "unknown macro $nope"},
		{`$loop`, "macro $loop expands itself"},
		{`$bad`, "missing '}'"},
		{`^properties`, "^properties has no members"},
		{`a.b`, `unexpected '.'`},
		{`@`, "unexpected end"},
		{"a\nb\n%", "line 3"},
	}
	for _, tt := range tests {
		_, err := parseShape(tt.shape, macros, "test")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseShape(%q) error = %v, want it to contain %q", tt.shape, err, tt.want)
		}
	}
}

// FuzzParseShape: the shape parser and generator never panic.
func FuzzParseShape(f *testing.F) {
	for _, st := range servedTypes {
		f.Add(st.shape)
	}
	f.Add(`a {b`)
	f.Add(`@A|B! {x[]!} $m ^p {q=r}`)
	macros := map[string]string{"m": "x y {z}", "loop": "$loop"}
	f.Fuzz(func(t *testing.T, src string) {
		nodes, err := parseShape(src, macros, "fuzz")
		if err != nil {
			return
		}
		genShape(nodes, func(prop string, p value.Path, _ bool) {
			if prop == "" || len(p) == 0 {
				t.Fatalf("empty alias %q -> %v", prop, p)
			}
		})
	})
}
