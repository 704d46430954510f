package config

import (
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/edge/redact"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// ErrInvalid is wrapped by every error Load, Parse and Validate return for
// a bad configuration.
var ErrInvalid = errors.New("invalid config")

// Error is one configuration problem. File and Line are set by Parse/Load
// (Line 0 = unknown); Path is the field path such as
// "cameras[0].masks[1].polygon" ("" = the whole file).
type Error struct {
	File string
	Line int
	Path string
	Msg  string
	Err  error // underlying cause, if any (e.g. a mask.Error)
}

// Error formats as "FILE: line N: PATH: MSG", leaving out unknown parts.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrInvalid and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// maxFileSize bounds the config file; real ones are a few KiB.
const maxFileSize = 256 << 10

// maxDepth bounds nesting; the config needs 5 levels
// (cameras[0].masks[1].polygon[2][0]). Deeply nested input makes the YAML
// parser slow, so it is refused from the tokens, before parsing.
const maxDepth = 16

// tooDeep returns the line of the first token nested deeper than maxDepth
// (flow brackets plus "- " entries on one line), or 0.
func tooDeep(toks token.Tokens) int {
	depth, dashes, line := 0, 0, -1
	for _, t := range toks {
		l := tokLine(t)
		if l != line {
			line, dashes = l, 0
		}
		switch t.Type {
		case token.SequenceStartType, token.MappingStartType:
			depth++
		case token.SequenceEndType, token.MappingEndType:
			depth--
		case token.SequenceEntryType:
			dashes++
		}
		if depth+dashes > maxDepth {
			return l
		}
	}
	return 0
}

// Parse decodes and validates a config. name is used in error messages
// (normally the file name). Unknown keys, anchors/aliases, several
// documents and any invalid value are errors of type *Error carrying the
// line number and field path.
func Parse(data []byte, name string) (*Config, error) {
	fail := func(line int, path, msg string, cause error) (*Config, error) {
		return nil, &Error{File: name, Line: line, Path: path, Msg: scrub(msg), Err: cause}
	}
	if len(data) > maxFileSize {
		return fail(0, "", fmt.Sprintf("file is larger than %d bytes", maxFileSize), nil)
	}
	toks := lexer.Tokenize(string(data))
	if line := tooDeep(toks); line > 0 {
		return fail(line, "", fmt.Sprintf("nested more than %d levels deep", maxDepth), nil)
	}
	f, err := parser.Parse(toks, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			return fail(tokLine(ye.GetToken()), "", "YAML syntax: "+ye.GetMessage(), nil)
		}
		return fail(0, "", "YAML syntax: "+err.Error(), nil)
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if body != nil {
			return fail(tokLine(d.Body.GetToken()), "", "more than one YAML document", nil)
		}
		body = d.Body
	}
	if body == nil {
		return fail(0, "", "config is empty", nil)
	}
	ix := newIndex()
	if err := ix.walk(body, ""); err != nil {
		return fail(err.line, err.path, err.msg, nil)
	}
	if body.Type() != ast.MappingType {
		return fail(tokLine(body.GetToken()), "", "the config must be a mapping (device:, storage:, cameras:, …)", nil)
	}
	var c Config
	if err := decode(body, &c); err != nil {
		line, path, msg, exact := ix.decodeError(err)
		if l := ix.line(path); !exact && path != "" && l > 0 {
			line = l // the line of the key, where the value may start below it
		}
		return fail(line, path, msg, nil)
	}
	ix.keepRawText(&c)
	c.applyDefaults()
	if fe := c.validate(); fe != nil {
		return fail(ix.line(fe.path), fe.path, fe.msg, fe.err)
	}
	return &c, nil
}

// decode runs the strict decoder, turning a panic inside it (a bug in the
// YAML library on odd input) into an error: a config file must never crash
// the recorder.
func decode(body ast.Node, c *Config) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &valueError{body.GetToken(), "the YAML decoder failed on this file (unsupported construct)"}
		}
	}()
	return yaml.NodeToValue(body, c, yaml.Strict())
}

func tokLine(t *token.Token) int {
	if t == nil || t.Position == nil {
		return 0
	}
	return t.Position.Line
}

// scrub removes credentials from a message, in case a value was quoted,
// and escapes control characters so that the message stays one line.
func scrub(msg string) string {
	msg = redact.Userinfo(msg)
	if !strings.ContainsFunc(msg, unicode.IsControl) {
		return msg
	}
	var b strings.Builder
	for _, r := range msg {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// index maps AST positions to field paths and back.
type index struct {
	keyTok map[*token.Token]string // key token → path of its field
	valTok map[*token.Token]string // value token → path (outermost wins)
	lines  map[string]int          // path → line
	raw    map[string]string       // path → text of a number or bool scalar
}

type walkError struct {
	line      int
	path, msg string
}

func newIndex() *index {
	return &index{keyTok: map[*token.Token]string{}, valTok: map[*token.Token]string{}, lines: map[string]int{}, raw: map[string]string{}}
}

func (ix *index) walk(n ast.Node, path string) *walkError {
	return ix.walkDepth(n, path, 0)
}

func (ix *index) walkDepth(n ast.Node, path string, depth int) *walkError {
	if n == nil {
		return nil
	}
	if depth > 4*maxDepth { // mapping values count twice; see also tooDeep
		return &walkError{tokLine(n.GetToken()), "", fmt.Sprintf("nested more than %d levels deep", maxDepth)}
	}
	if t := n.GetToken(); t != nil {
		if _, ok := ix.valTok[t]; !ok {
			ix.valTok[t] = path
		}
		if _, ok := ix.lines[path]; !ok && path != "" {
			ix.lines[path] = tokLine(t)
		}
	}
	switch v := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		ix.raw[path] = n.GetToken().Value
	case *ast.AnchorNode, *ast.AliasNode, *ast.MergeKeyNode:
		return &walkError{tokLine(n.GetToken()), path, "YAML anchors, aliases and merge keys are not supported in the config"}
	case *ast.TagNode:
		return &walkError{tokLine(n.GetToken()), path, "YAML tags (!…) are not supported in the config"}
	case *ast.MappingNode:
		for _, mv := range v.Values {
			if err := ix.walkDepth(mv, path, depth+1); err != nil {
				return err
			}
		}
	case *ast.MappingValueNode:
		if _, ok := v.Key.(*ast.MergeKeyNode); ok {
			return &walkError{tokLine(v.Key.GetToken()), path, "YAML anchors, aliases and merge keys are not supported in the config"}
		}
		key := v.Key.GetToken()
		kname := ""
		if key != nil {
			kname = key.Value
		}
		child := kname
		if path != "" {
			child = path + "." + kname
		}
		if key != nil {
			ix.keyTok[key] = child
			ix.lines[child] = tokLine(key)
		}
		return ix.walkDepth(v.Value, child, depth+1)
	case *ast.SequenceNode:
		for i, e := range v.Values {
			child := path + "[" + strconv.Itoa(i) + "]"
			if i < len(v.Entries) && v.Entries[i] != nil && v.Entries[i].Start != nil {
				ix.lines[child] = tokLine(v.Entries[i].Start)
			}
			if err := ix.walkDepth(e, child, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// keepRawText makes identifier-like string fields keep the text as written
// when YAML would read it as a number or bool: id 0001 stays "0001" (not
// "1"), a site named yes stays "yes".
func (ix *index) keepRawText(c *Config) {
	set := func(path string, dst *string) {
		if v, ok := ix.raw[path]; ok {
			*dst = v
		}
	}
	set("device.id", &c.Device.ID)
	set("device.site", &c.Device.Site)
	set("device.filing", &c.Device.Filing)
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		p := "cameras[" + strconv.Itoa(i) + "]"
		set(p+".id", &cam.ID)
		set(p+".name", &cam.Name)
		set(p+".signage.attested_by", &cam.Signage.AttestedBy)
		for j := range cam.Masks {
			set(p+".masks["+strconv.Itoa(j)+"].name", &cam.Masks[j].Name)
		}
	}
	if u := c.Uplink; u != nil {
		set("uplink.username", &u.Username)
		pw := string(u.Password)
		set("uplink.password", &pw)
		u.Password = Secret(pw)
	}
}

// line returns the line of path, or of its nearest ancestor in the file.
func (ix *index) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := ix.lines[p]; ok {
			return l
		}
	}
	return 0
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// decodeError turns a goccy decode error into line, path and message;
// exact means the line is that of the offending key itself.
func (ix *index) decodeError(err error) (line int, path, msg string, exact bool) {
	var ve *valueError
	if errors.As(err, &ve) {
		return tokLine(ve.tok), ix.valTok[ve.tok], ve.msg, false
	}
	var uf *yaml.UnknownFieldError
	if errors.As(err, &uf) {
		p := ix.keyTok[uf.Token]
		key := ""
		if uf.Token != nil {
			key = uf.Token.Value
		}
		return tokLine(uf.Token), parent(p), fmt.Sprintf("unknown key %q", key), true
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		p, ok := ix.valTok[te.Token]
		if !ok {
			p = ix.keyTok[te.Token]
		}
		return tokLine(te.Token), p, "want " + kindName(te.DstType.Kind().String()), false
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		t := ye.GetToken()
		p, ok := ix.valTok[t]
		if !ok {
			p = ix.keyTok[t]
		}
		return tokLine(t), p, ye.GetMessage(), false
	}
	return 0, "", err.Error(), false
}

func kindName(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "a list"
	case "struct", "map", "ptr":
		return "a mapping (key: value)"
	}
	return k
}
