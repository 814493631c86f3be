package memrelease

import (
	"fmt"
	"strings"
	"testing"
)

// smapsEntry renders one smaps entry with the lines the parser reads
// among others it skips; omit names lines to leave out.
func smapsEntry(header string, rss, anon, locked int, omit ...string) string {
	return smapsSwapEntry(header, rss, anon, 0, locked, omit...)
}

func smapsSwapEntry(header string, rss, anon, swap, locked int, omit ...string) string {
	lines := []string{header,
		"Size:               2048 kB",
		fmt.Sprintf("Rss:                %d kB", rss),
		"Pss:                   4 kB",
		"Private_Clean:         4 kB",
		fmt.Sprintf("Anonymous:          %d kB", anon),
		"AnonHugePages:         0 kB",
		fmt.Sprintf("Swap:               %d kB", swap),
		"SwapPss:               0 kB",
		fmt.Sprintf("Locked:             %d kB", locked),
		"THPeligible:           0",
		"VmFlags: rd ex mr mw me",
	}
	var out []string
next:
	for _, l := range lines {
		for _, o := range omit {
			if strings.HasPrefix(l, o+":") {
				continue next
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + "\n"
}

func TestDroppableMappings(t *testing.T) {
	const bin = " fd:01 4242       /usr/local/bin/pagergate"
	text := smapsEntry("00400000-01400000 r-xp 00000000"+bin, 8000, 0, 0) + // 0 code
		smapsEntry("01400000-01a00000 r--p 01000000"+bin, 3000, 0, 0) + // 1 read-only data
		smapsEntry("01a00000-01b00000 rw-p 01600000"+bin, 500, 0, 0) + // 2 data: writable
		smapsEntry("01b00000-01c00000 r--p 01700000"+bin, 400, 8, 0) + // 3 relocated: a private copy
		smapsEntry("01c00000-01d00000 r-xp 01800000"+bin, 400, 0, 4) + // 4 locked
		smapsEntry("01d00000-01e00000 r-xp 01900000"+bin, 0, 0, 0) + // 5 nothing resident
		smapsEntry("01e00000-01f00000 r--p 01a00000"+bin, 400, 0, 0, "Anonymous") + // 6 Anonymous unknown
		smapsEntry("01f00000-02000000 r--p 01b00000"+bin, 400, 0, 0, "Locked") + // 7 Locked unknown
		smapsEntry("7f0000000000-7f0000200000 r--s 00000000 fd:02 4242   /var/lib/pagergate/state.db", 400, 0, 0) + // 8 same inode, other device
		smapsEntry("7f0000200000-7f0000400000 r--p 00000000 fd:01 999    /usr/lib/other.so", 400, 0, 0) + // 9 another file
		smapsEntry("c000000000-c004000000 rw-p 00000000 00:00 0", 9000, 9000, 0) + // 10 heap
		smapsEntry("7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                  [vdso]", 8, 0, 0) + // 11 vdso
		smapsEntry("02000000-02100000 ---p 01c00000"+bin, 4, 0, 0) + // 12 no access
		smapsSwapEntry("02100000-02200000 r--p 01d00000"+bin, 400, 0, 8, 0) + // 13 relocated, its copies swapped out
		smapsEntry("02200000-02300000 r--p 01e00000"+bin, 400, 0, 0, "Swap") // 14 Swap unknown
	maps, err := parseSmaps(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 15 {
		t.Fatalf("parsed %d mappings, want 15", len(maps))
	}
	exe, ok := executable(maps, 0x00401234)
	if !ok || exe != (file{dev: "fd:01", inode: 4242}) {
		t.Fatalf("executable() = %+v, %v; want fd:01 inode 4242", exe, ok)
	}
	if m := maps[0]; m.start != 0x400000 || m.end != 0x1400000 || m.rss != 8000<<10 || m.path != "/usr/local/bin/pagergate" {
		t.Fatalf("mapping 0 = %+v", m)
	}
	want := map[int]bool{0: true, 1: true}
	for i, m := range maps {
		if got := m.droppable(exe); got != want[i] {
			t.Errorf("mapping %d (%s %s, rss %d, anon %d, swap %d, locked %d): droppable = %v, want %v",
				i, m.perms, m.path, m.rss, m.anonymous, m.swap, m.locked, got, want[i])
		}
	}
	if _, ok := executable(maps, 0xc000001000); ok {
		t.Error("executable() found a file for an address of the anonymous heap")
	}
	if _, ok := executable(maps, 0x10); ok {
		t.Error("executable() found a file for an unmapped address")
	}
	var zero file
	if maps[0].droppable(zero) {
		t.Error("a mapping is droppable when the executable is unknown")
	}
}

func TestParseSmapsErrors(t *testing.T) {
	for name, text := range map[string]string{
		"line before a mapping": "Rss: 4 kB\n",
		"size without unit":     "00400000-00401000 r-xp 00000000 fd:01 1 /bin/x\nRss: 4\n",
		"negative size":         "00400000-00401000 r-xp 00000000 fd:01 1 /bin/x\nAnonymous: -4 kB\n",
		"bad inode":             "00400000-00401000 r-xp 00000000 fd:01 x1 /bin/x\n",
	} {
		if _, err := parseSmaps(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parseSmaps accepted %q", name, text)
		}
	}
	maps, err := parseSmaps(strings.NewReader("00400000-00401000 r-xp 00000000 fd:01 1 /bin/with space\nVmFlags: rd ex\n"))
	if err != nil || len(maps) != 1 || maps[0].path != "/bin/with space" || maps[0].anonymous != -1 {
		t.Fatalf("parseSmaps = %+v, %v", maps, err)
	}
}
