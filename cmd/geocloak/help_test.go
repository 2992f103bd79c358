package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmePath is the README, from this package's folder.
const readmePath = "../../README.md"

// Flags every command takes, described once at the end of the help text.
var commonFlags = []string{"log-format", "log-level"}

// commandFlags returns the flags `geocloak CMD -h` prints: those its FlagSet defines.
func commandFlags(t *testing.T, cmd string) []string {
	t.Helper()
	_, stderr, err := geocloak(t, cmd, "-h")
	if err != nil {
		t.Fatalf("%s -h: %v", cmd, err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(stderr, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("%s -h lists no flags:\n%s", cmd, stderr)
	}
	return out
}

// synopses maps each command to the synopsis lines of a usage text: a line starting
// with "geocloak CMD" (after indent spaces) and the more indented lines continuing it.
func synopses(text, indent string) map[string]string {
	out := make(map[string]string)
	cmd := ""
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, indent+"geocloak "); ok {
			cmd, _, _ = strings.Cut(rest, " ")
			out[cmd] += rest + "\n"
			continue
		}
		if cmd != "" && strings.HasPrefix(l, indent+" ") && strings.HasPrefix(strings.TrimSpace(l), "[") {
			out[cmd] += l + "\n"
			continue
		}
		cmd = ""
	}
	return out
}

func mentions(text, flag string) bool {
	return regexp.MustCompile(`--` + regexp.QuoteMeta(flag) + `([^a-z0-9-]|$)`).MatchString(text)
}

// Every flag of every command is in `geocloak help` and in the README's synopsis.
func TestHelpListsEveryFlag(t *testing.T) {
	help, _, err := geocloak(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	i := strings.Index(section, "\n## Commands\n")
	if i < 0 {
		t.Fatal("no Commands section in the README")
	}
	section = section[i+1:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	block := section[strings.Index(section, "```\n")+4:]
	block = block[:strings.Index(block, "```")]

	inHelp, inReadme := synopses(help, "  "), synopses(block, "")
	commands := []string{"demo", "run", "broker", "evaluate", "bench", "synth"}
	for _, cmd := range append(slices.Clone(commands), "config", "version", "help") {
		if inHelp[cmd] == "" {
			t.Errorf("geocloak help has no synopsis for %s:\n%s", cmd, help)
		}
		if inReadme[cmd] == "" {
			t.Errorf("the README's Commands block has no synopsis for %s:\n%s", cmd, block)
		}
	}
	for _, cmd := range commands {
		for _, f := range commandFlags(t, cmd) {
			if slices.Contains(commonFlags, f) {
				continue
			}
			if !mentions(inHelp[cmd], f) {
				t.Errorf("geocloak help: %s lacks --%s:\n%s", cmd, f, inHelp[cmd])
			}
			if !mentions(inReadme[cmd], f) {
				t.Errorf("README: %s lacks --%s:\n%s", cmd, f, inReadme[cmd])
			}
		}
	}
	for _, f := range commonFlags {
		if !slices.Contains(commandFlags(t, "run"), f) {
			t.Errorf("run does not take --%s", f)
		}
		if !mentions(help, f) || !mentions(section, f) {
			t.Errorf("--%s is not in geocloak help or in the README's Commands section", f)
		}
	}
}
