// Command genresources writes a deterministic stream of realistic Azure
// Machine Learning resources as JSON Lines, for benchmarks and demos:
//
//	go run ./scripts/genresources -n 100000 -seed 1 -o /tmp/ml-100k.jsonl
//
// The resources come from internal/resgen (which the engine's benchmarks
// share): workspaces, computes, jobs, endpoints, registries, datastores,
// associated storage accounts, key vaults, private endpoints, diagnostic
// settings and the data-plane components of the resource-provider-mode
// built-ins, with compliant and non-compliant settings mixed. The same -n
// and -seed always produce the same bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mlgov/mlgov/internal/resgen"
)

func main() {
	n := flag.Int("n", 1000, "number of resources")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "-", "output file ('-' = stdout)")
	flag.Parse()
	if err := run(*n, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genresources:", err)
		os.Exit(1)
	}
}

func run(n int, seed uint64, path string) error {
	var w io.Writer = os.Stdout
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return err
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	g := resgen.New(seed)
	var buf []byte
	for i := 0; i < n; i++ {
		buf = append(g.Append(buf[:0]), '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}
