package memrelease

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mapping is one entry of /proc/<pid>/smaps: what it maps and how much
// of it is resident.
type mapping struct {
	start, end uintptr
	perms      string // "r-xp"
	dev        string // "fd:01", major:minor in hex
	inode      uint64
	path       string
	// rss, anonymous, swap and locked are in bytes; -1 when smaps did
	// not say.
	rss, anonymous, swap, locked int64
}

// file is the identity of a mapped file as smaps names it.
type file struct {
	dev   string
	inode uint64
}

// droppable reports whether the resident pages of m may be dropped: a
// mapping of exe, readable and not writable, with no page locked and no
// private copy of a page, in memory (Anonymous) or swapped out (Swap: a
// relocated page of a PIE build once swapped), so that every page holds
// the file's own bytes and faults back in unchanged.
func (m mapping) droppable(exe file) bool {
	return exe.inode != 0 && m.inode == exe.inode && m.dev == exe.dev &&
		len(m.perms) == 4 && m.perms[0] == 'r' && m.perms[1] != 'w' &&
		m.anonymous == 0 && m.swap == 0 && m.locked == 0 && m.rss > 0 && m.end > m.start
}

// executable is the file of the mapping holding pc: the executable, its
// device and inode as smaps prints them (on overlayfs those of the layer's
// file, which stat of /proc/self/exe may not give).
func executable(maps []mapping, pc uintptr) (file, bool) {
	for _, m := range maps {
		if m.start <= pc && pc < m.end && m.inode != 0 {
			return file{dev: m.dev, inode: m.inode}, true
		}
	}
	return file{}, false
}

// parseSmaps reads the mappings of an smaps file. A mapping whose
// Anonymous, Swap or Locked line is missing counts as holding such pages
// (-1: it is never dropped).
func parseSmaps(r io.Reader) ([]mapping, error) {
	var out []mapping
	err := scanSmaps(r, func(m mapping) error { out = append(out, m); return nil })
	return out, err
}

// scanSmaps calls each with every mapping of an smaps file as soon as its
// entry is read, so that what each does follows what smaps said of the
// mapping by as little as possible; an error of each ends the scan.
func scanSmaps(r io.Reader, each func(mapping) error) error {
	var cur mapping
	have := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if m, ok, err := parseHeader(text); err != nil {
			return fmt.Errorf("smaps line %d: %w", line, err)
		} else if ok {
			if have {
				if err := each(cur); err != nil {
					return err
				}
			}
			cur, have = m, true
			continue
		}
		if !have {
			return fmt.Errorf("smaps line %d: %q before any mapping", line, text)
		}
		key, rest, ok := strings.Cut(text, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "Rss":
			dst = &cur.rss
		case "Anonymous":
			dst = &cur.anonymous
		case "Swap":
			dst = &cur.swap
		case "Locked":
			dst = &cur.locked
		default:
			continue
		}
		n, err := parseKB(rest)
		if err != nil {
			return fmt.Errorf("smaps line %d: %s: %w", line, key, err)
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if have {
		return each(cur)
	}
	return nil
}

// parseHeader parses "start-end perms offset dev inode [path]"; ok is
// false for a line that is not a header.
func parseHeader(text string) (m mapping, ok bool, err error) {
	f := strings.Fields(text)
	if len(f) < 5 {
		return m, false, nil
	}
	lo, hi, isRange := strings.Cut(f[0], "-")
	if !isRange || strings.HasSuffix(f[0], ":") {
		return m, false, nil
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil {
		return m, false, nil
	}
	inode, err := strconv.ParseUint(f[4], 10, 64)
	if err != nil {
		return m, false, fmt.Errorf("inode %q: %w", f[4], err)
	}
	m = mapping{start: uintptr(start), end: uintptr(end), perms: f[1], dev: f[3], inode: inode,
		// Until their lines are read, count the mapping as unsafe.
		anonymous: -1, swap: -1, locked: -1}
	if len(f) > 5 {
		m.path = strings.Join(f[5:], " ")
	}
	return m, true, nil
}

// parseKB parses " 1234 kB" into bytes.
func parseKB(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("%q is not a size in kB", strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size in kB", strings.TrimSpace(s))
	}
	return n << 10, nil
}
