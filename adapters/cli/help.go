package cli

import (
	"embed"
	"flag"
	"fmt"
	"io"
	"strings"
)

// texts holds the usage of the program (pagergate.txt) and of each
// subcommand (<name>.txt, where "{{flags}}" stands for its flags).
//
//go:embed help/*.txt
var texts embed.FS

// Program is the name of the program's own help text.
const Program = "pagergate"

// HasHelp reports whether name is a subcommand with a help text.
func HasHelp(name string) bool {
	_, err := texts.Open("help/" + name + ".txt")
	return err == nil && name != Program
}

// Help prints the help text of name with the flags of fs (nil: none) in
// place of "{{flags}}": aliases on one line ("-c, --config FILE"), each
// with its default.
func Help(w io.Writer, name string, fs *flag.FlagSet) {
	text, err := texts.ReadFile("help/" + name + ".txt")
	if err != nil {
		panic("cli: no help text for " + name) // a build without its texts
	}
	before, after, _ := strings.Cut(string(text), "{{flags}}\n")
	io.WriteString(w, before)
	for _, g := range flagGroups(fs) {
		names := make([]string, len(g))
		for i, f := range g {
			names[i] = strings.Repeat("-", min(len(f.Name), 2)) + f.Name
		}
		typ, usage := flag.UnquoteUsage(g[0])
		head := strings.TrimSpace(strings.Join(names, ", ") + " " + typ)
		if def := g[0].DefValue; def != "" && def != "false" && def != "0" && def != "0s" {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "  %-26s %s\n", head, usage)
	}
	io.WriteString(w, after)
}

// flagGroups returns the flags of fs in name order, the aliases of a flag
// (flags of the same variable) grouped with it.
func flagGroups(fs *flag.FlagSet) [][]*flag.Flag {
	var groups [][]*flag.Flag
	if fs == nil {
		return nil
	}
	fs.VisitAll(func(f *flag.Flag) {
		for i, g := range groups {
			if g[0].Value == f.Value {
				groups[i] = append(g, f)
				return
			}
		}
		groups = append(groups, []*flag.Flag{f})
	})
	return groups
}
