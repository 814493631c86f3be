package helm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Row documents one value of the chart.
type Row struct {
	Key         string // dotted path, such as teleport.address
	Type        string // string, int, bool, list or object
	Default     string // the default as JSON
	Description string
}

// docMarker starts a value's description in a comment above its key.
const docMarker = "# --"

// ValuesRows reads values.yaml and returns a row per documented value, in
// file order. A value is documented by a comment above its key whose last
// paragraph starts with "# --"; a documented mapping is one row, an
// undocumented one is documented by its keys. A scalar or list without a
// description is an error, so no value goes unexplained.
func ValuesRows(src []byte) ([]Row, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("values.yaml is not a mapping")
	}
	var rows []Row
	var missing []string
	var walk func(prefix string, m *yaml.Node) error
	walk = func(prefix string, m *yaml.Node) error {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			key := prefix + k.Value
			desc := description(k.HeadComment)
			if desc == "" && v.Kind == yaml.MappingNode && len(v.Content) > 0 {
				if err := walk(key+".", v); err != nil {
					return err
				}
				continue
			}
			if desc == "" {
				missing = append(missing, key)
				continue
			}
			def, err := defaultJSON(v)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			rows = append(rows, Row{Key: key, Type: typeOf(v), Default: def, Description: desc})
		}
		return nil
	}
	if err := walk("", doc.Content[0]); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("values without a %q description: %s", docMarker, strings.Join(missing, ", "))
	}
	return rows, nil
}

// description returns the last "# --" paragraph of a head comment, its
// lines joined.
func description(comment string) string {
	lines := strings.Split(comment, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), docMarker) {
			start = i
		}
	}
	if start < 0 {
		return ""
	}
	var words []string
	for i, l := range lines[start:] {
		l = strings.TrimSpace(l)
		if l == "" || (i > 0 && strings.HasPrefix(l, docMarker)) {
			break
		}
		if i == 0 {
			l = strings.TrimPrefix(l, docMarker)
		} else {
			l = strings.TrimPrefix(l, "#")
		}
		if l = strings.TrimSpace(l); l != "" {
			words = append(words, l)
		}
	}
	return strings.Join(words, " ")
}

func typeOf(v *yaml.Node) string {
	switch {
	case v.Kind == yaml.SequenceNode:
		return "list"
	case v.Kind == yaml.MappingNode:
		return "object"
	case v.Tag == "!!int":
		return "int"
	case v.Tag == "!!bool":
		return "bool"
	default:
		return "string"
	}
}

func defaultJSON(v *yaml.Node) (string, error) {
	var x any
	if err := v.Decode(&x); err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// Table renders rows as a Markdown table.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", r.Key, r.Type, cell(r.Default), cell(r.Description))
	}
	return b.String()
}

func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// Markers around the generated table in the chart's README.md.
const (
	TableBegin = "<!-- values table: generated from values.yaml by `make chart-docs`; do not edit -->\n"
	TableEnd   = "<!-- end of values table -->\n"
)

// ReplaceTable returns readme with the text between the markers replaced
// by table.
func ReplaceTable(readme, table string) (string, error) {
	i := strings.Index(readme, TableBegin)
	j := strings.Index(readme, TableEnd)
	if i < 0 || j < i {
		return "", errors.New("README.md has no values table markers")
	}
	return readme[:i+len(TableBegin)] + table + readme[j:], nil
}
