package app

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeFlags reads the README's "## Flags" table: for each row, the flags
// its first cell names (`--name`, several separated by " / ") and its
// default cell.
func readmeFlags(t *testing.T) (rows [][]string, defaults []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Flags\n")
	if !ok {
		t.Fatal("README.md has no \"## Flags\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	name := regexp.MustCompile("^`--([a-z0-9-]+)`$")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README flag row has %d cells, want 3 (flag, default, meaning): %s", len(cells), line)
		}
		var names []string
		for _, part := range strings.Split(strings.TrimSpace(cells[0]), " / ") {
			m := name.FindStringSubmatch(part)
			if m == nil {
				t.Fatalf("README flag cell %q: want `--name`, several separated by \" / \"", cells[0])
			}
			names = append(names, m[1])
		}
		rows = append(rows, names)
		defaults = append(defaults, strings.TrimSpace(cells[1]))
	}
	if len(rows) == 0 {
		t.Fatal("found no rows in the README's flag table")
	}
	return rows, defaults
}

// TestReadmeFlagTable holds the README's flag table to `jetsse serve`'s
// flag set: every flag listed once, nothing listed that does not exist,
// and each default written as a plain value (`24h`, `1GiB`) equal to the
// real one.
func TestReadmeFlagTable(t *testing.T) {
	fs := FlagSets()["serve"]
	rows, defaults := readmeFlags(t)
	seen := map[string]bool{}
	for i, names := range rows {
		for j, n := range names {
			f := fs.Lookup(n)
			switch {
			case f == nil:
				t.Errorf("README lists --%s, which `jetsse serve` does not have", n)
				continue
			case seen[n]:
				t.Errorf("README lists --%s twice", n)
			}
			seen[n] = true
			if d, ok := readmeDefault(defaults[i], len(names), j); ok && !sameDefault(d, f) {
				t.Errorf("README says --%s defaults to %q; it is %q", n, d, f.DefValue)
			}
		}
	}
	var missing []string
	fs.VisitAll(func(f *flag.Flag) {
		if !seen[f.Name] {
			missing = append(missing, "--"+f.Name)
		}
	})
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("README's flag table lacks %s", strings.Join(missing, ", "))
	}
}

// readmeDefault returns the j-th of n defaults in a README default cell
// ("`24h` / `0` / `1GiB`") when it is one plain literal; prose ("generated
// in the data dir") and empty cells are not compared.
func readmeDefault(cell string, n, j int) (string, bool) {
	parts := strings.Split(cell, " / ")
	if len(parts) != n {
		if n != 1 {
			return "", false
		}
		parts = []string{cell}
	}
	p := strings.TrimSpace(parts[j])
	if len(p) < 2 || p[0] != '`' || p[len(p)-1] != '`' || strings.Count(p, "`") != 2 {
		return "", false
	}
	return p[1 : len(p)-1], true
}

// sameDefault reports whether the README's default d is f's: the same
// text, the same duration or the same size.
func sameDefault(d string, f *flag.Flag) bool {
	if d == f.DefValue {
		return true
	}
	if a, err := time.ParseDuration(d); err == nil {
		b, err := time.ParseDuration(f.DefValue)
		return err == nil && a == b
	}
	if a, err := parseSize(d, 64); err == nil {
		b, err := parseSize(f.DefValue, 64)
		return err == nil && a == b
	}
	return false
}

// TestReadmeMetricTable: every jetsse_* metric the edge registers
// (services/edge/metrics.go) is in the README's metric table under
// "Operating it".
func TestReadmeMetricTable(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "services", "edge", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Operating it\n")
	names := regexp.MustCompile(`(?:counter|gauge|histogram)\("([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 20 {
		t.Fatalf("found %d metrics in metrics.go; the pattern no longer matches it", len(names))
	}
	for _, m := range names {
		name := "jetsse_" + m[1]
		if !regexp.MustCompile("\\| [^\\n]*`" + name + "[`{]").MatchString(section) {
			t.Errorf("README's metric table lacks %s", name)
		}
	}
}
