package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem with the configuration, located in its file.
type Error struct {
	File   string // file name; "" when the config was built in code
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Key    string // dotted path such as "watchlist[2].terms[0]"; "" for the whole file
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one load, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

type position struct{ line, col int }

// positions maps a key path ("feeds[3].url") to where its value is written.
type positions map[string]position

// Errorf builds an error located at the key path in the file the
// configuration came from. Callers outside the package use it to report
// problems they find in a loaded config (a watch term that does not compile)
// with the same precision as Validate.
func (c *Config) Errorf(path, format string, args ...any) *Error {
	p := c.pos[path]
	return &Error{File: c.Path, Line: p.line, Column: p.col, Key: path, Msg: fmt.Sprintf(format, args...)}
}

// where describes the location of a key for cross references in messages.
func (c *Config) where(path string) string {
	if p, ok := c.pos[path]; ok && p.line > 0 {
		return fmt.Sprintf("line %d", p.line)
	}
	return path
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decode fills c from YAML data. Unlike a plain yaml.Unmarshal it rejects
// unknown keys (with the keys that are allowed there), reports every type
// error with its line, and records where each key was written so that
// Validate can point at it.
func decode(c *Config, file string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		if strings.HasPrefix(msg, "did not find expected") {
			// The parser reports where the enclosing block starts, not the
			// line that broke it.
			msg += " (in the block starting here: check the indentation of the lines below)"
		}
		return Errors{{File: file, Line: line, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return Errors{{File: file, Msg: "the file is empty"}}
	}
	d := decoder{file: file, pos: positions{}}
	d.value(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	c.pos = d.pos
	if len(d.errs) > 0 {
		return d.errs
	}
	return nil
}

type decoder struct {
	file string
	pos  positions
	errs Errors
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Key: path, Msg: fmt.Sprintf(format, args...)})
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = position{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with nothing after it keeps the default
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, path, "%s", cleanTypeError(err))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want %s, got %s", kindName(v.Type()), describe(n))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, path, "want %s, got %q", kindName(v.Type()), n.Value)
		}
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping of keys (%s), got %s", strings.Join(yamlKeys(v.Type()), ", "), describe(n))
		return
	}
	fields := map[string]int{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			fields[name] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q; want one of: %s", k.Value, strings.Join(yamlKeys(t), ", "))
			if s := suggest(k.Value, yamlKeys(t)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.fail(k, key, "%s", msg)
			continue
		}
		if seen[k.Value] {
			d.fail(k, key, "key %q appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		d.value(val, v.Field(idx), key)
		// Point at the key, which is where a reader looks for it.
		d.pos[key] = position{k.Line, k.Column}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

// cleanTypeError strips the yaml package's framing from an error returned by
// a custom unmarshaler, leaving the message it wrote.
func cleanTypeError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return te.Errors[0]
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// suggest returns the allowed key closest to a mistyped one, if any is close.
func suggest(got string, keys []string) string {
	best, bestDist := "", 3
	for _, k := range keys {
		if d := editDistance(strings.ToLower(got), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
