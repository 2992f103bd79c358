package main

import (
	"bufio"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's commands, so that they cannot rot. In every ```sh or ```bash block:
//   - a line starting with `go run ./cmd/geocloak` is run, from the root of a fresh copy
//     of the repository, with a binary built once standing in for `go run ./cmd/geocloak`; it
//     must exit 0 and create every file or folder its --out, --audit, --report, --geojson
//     or --cpuprofile names;
//   - a `go build` line is run as it is, in a fresh copy too;
//   - a `go test` line is checked without running it: its -run, -bench and -fuzz
//     patterns must select tests that exist (a -fuzz pattern exactly one fuzz target,
//     with a -run that selects no test), in every package it names;
//   - any other line fails the test.
//
// A block whose preceding line is `<!-- readme-test: skip: REASON -->` is not run (the
// long-running ones: run, broker, demo --keep-running, bench --soak, docker compose,
// kcat against the compose broker); the test logs each skipped block with its reason.
// `go test` commands in inline code spans are checked like those in blocks.
var skipMarker = regexp.MustCompile(`^<!-- readme-test: skip: (.+) -->$`)

type readmeCommand struct {
	line int    // 1-based line in README.md
	text string // continuation lines joined
}

type readmeBlock struct {
	line     int
	skip     string // the reason, when marked
	commands []readmeCommand
}

func readmeBlocks(t *testing.T) ([]readmeBlock, []readmeCommand) {
	t.Helper()
	f, err := os.Open(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var inline []readmeCommand
	var cur *readmeBlock
	prev := ""
	pending := ""
	pendingLine := 0
	span := regexp.MustCompile("`(go test [^`]+)`")
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if cur == nil || strings.TrimSpace(l) == "```" {
			// Fences may be indented, inside a list item.
			l = strings.TrimLeft(l, " ")
		}
		switch {
		case cur == nil && (l == "```sh" || l == "```bash"):
			cur = &readmeBlock{line: n}
			if m := skipMarker.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				cur.skip = m[1]
			}
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &readmeBlock{line: n, skip: "not a shell block"}
		case cur != nil && l == "```":
			if cur.skip != "not a shell block" {
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil:
			if pending == "" {
				pendingLine = n
			}
			if s, ok := strings.CutSuffix(l, "\\"); ok {
				pending += s
				continue
			}
			text := strings.TrimSpace(pending + l)
			pending = ""
			if text != "" && !strings.HasPrefix(text, "#") {
				cur.commands = append(cur.commands, readmeCommand{line: pendingLine, text: text})
			}
		default:
			for _, m := range span.FindAllStringSubmatch(l, -1) {
				inline = append(inline, readmeCommand{line: n, text: m[1]})
			}
		}
		if strings.TrimSpace(l) != "" {
			prev = l
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks, inline
}

func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's commands")
	}
	blocks, inline := readmeBlocks(t)
	if len(blocks) < 5 {
		t.Fatalf("only %d shell blocks in the README", len(blocks))
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "geocloak")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ran := 0
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("README.md:%d: block skipped: %s", b.line, b.skip)
			continue
		}
		for _, c := range b.commands {
			switch {
			case strings.HasPrefix(c.text, "go run ./cmd/geocloak "), c.text == "go run ./cmd/geocloak":
				// Each in a fresh copy: no command may depend on what another left.
				root := filepath.Join(tmp, fmt.Sprintf("repo%d", ran))
				copyRepo(t, "../..", root)
				runReadmeCommand(t, bin, root, c)
				os.RemoveAll(root)
				ran++
			case strings.HasPrefix(c.text, "go build "):
				root := filepath.Join(tmp, fmt.Sprintf("repo%d", ran))
				copyRepo(t, "../..", root)
				runReadmeCommand(t, "go build", root, c)
				os.RemoveAll(root)
				ran++
			case strings.HasPrefix(c.text, "go test "):
				checkGoTest(t, c)
			default:
				t.Errorf("README.md:%d: %q is not a geocloak, go build or go test command: mark its block with <!-- readme-test: skip: REASON --> or make it one", c.line, c.text)
			}
		}
	}
	for _, c := range inline {
		checkGoTest(t, c)
	}
	if ran < 5 {
		t.Errorf("only %d geocloak commands ran", ran)
	}
}

// runReadmeCommand runs one command line through bash in root, as a user of a fresh clone
// would (no pseudonym key set), with bin in place of `go run ./cmd/geocloak`.
func runReadmeCommand(t *testing.T, bin, root string, c readmeCommand) {
	t.Helper()
	line := c.text
	if rest, ok := strings.CutPrefix(line, "go run ./cmd/geocloak"); ok {
		line = bin + rest
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", line)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GEOCLOAK_PSEUDONYM_KEY=")
	// Its own process group, so that a timeout also ends what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever it left running
	}
	if err != nil {
		t.Errorf("README.md:%d: %s: %v\n%s", c.line, c.text, err, out)
		return
	}
	t.Logf("README.md:%d: %s: ok in %s", c.line, c.text, time.Since(start).Round(time.Millisecond))
	args := shellFields(c.text)
	for i, a := range args[:len(args)-1] {
		switch a {
		case "--out", "--audit", "--report", "--geojson", "--cpuprofile":
			if _, err := os.Stat(filepath.Join(root, args[i+1])); err != nil {
				t.Errorf("README.md:%d: %s did not create %s: %v", c.line, a, args[i+1], err)
			}
		}
	}
}

// checkGoTest checks that a go test line's patterns select tests that exist.
func checkGoTest(t *testing.T, c readmeCommand) {
	t.Helper()
	args := shellFields(c.text)[2:]
	var pkgs []string
	flags := make(map[string]string)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pkgs = append(pkgs, a)
			continue
		}
		name, val, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "run", "bench", "fuzz", "fuzztime", "benchtime", "count", "timeout":
			if !ok && i+1 < len(args) {
				i++
				val = args[i]
			}
		}
		flags[name] = val
	}
	if len(pkgs) == 0 {
		pkgs = []string{"."}
	}
	for _, p := range pkgs {
		if strings.HasSuffix(p, "...") {
			continue
		}
		names := testNames(t, filepath.Join("../..", p))
		count := func(prefix, pattern string) int {
			n := 0
			re, err := regexp.Compile(strings.Split(pattern, "/")[0])
			if err != nil {
				t.Errorf("README.md:%d: %s: pattern %q: %v", c.line, c.text, pattern, err)
				return 0
			}
			for _, name := range names {
				if strings.HasPrefix(name, prefix) && re.MatchString(name) {
					n++
				}
			}
			return n
		}
		run, hasRun := flags["run"]
		switch {
		case flags["fuzz"] != "":
			if n := count("Fuzz", flags["fuzz"]); n != 1 {
				t.Errorf("README.md:%d: %s: -fuzz %q matches %d fuzz targets in %s, want exactly 1", c.line, c.text, flags["fuzz"], n, p)
			}
			if !hasRun || count("Test", run)+count("Fuzz", run) > 0 {
				t.Errorf("README.md:%d: %s: -fuzz without a -run that selects nothing (-run '^$')", c.line, c.text)
			}
		case flags["bench"] != "":
			if count("Benchmark", flags["bench"]) == 0 {
				t.Errorf("README.md:%d: %s: -bench %q matches no benchmark in %s", c.line, c.text, flags["bench"], p)
			}
			if !hasRun || count("Test", run) > 0 {
				t.Errorf("README.md:%d: %s: -bench without a -run that selects no test", c.line, c.text)
			}
		case hasRun:
			if count("Test", run) == 0 {
				t.Errorf("README.md:%d: %s: -run %q matches no test in %s", c.line, c.text, run, p)
			}
		}
	}
}

// testNames lists the top-level Test, Benchmark and Fuzz functions of a package.
func testNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				names = append(names, fd.Name.Name)
			}
		}
	}
	return names
}

// shellFields splits a command line as a shell would for plain words, single and double
// quotes; an unquoted # starting a word begins a comment.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'' || ch == '"':
			j := strings.IndexByte(s[i+1:], ch)
			if j < 0 {
				j = len(s) - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == ' ' || ch == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '#' && !inWord:
			return out
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// copyRepo copies the repository's files (not .git, nor outputs of earlier runs) to dst.
func copyRepo(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch rel {
			case ".git", "out", "bin":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || d.Name() == ".git" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(fmt.Errorf("copy the repository: %w", err))
	}
}
