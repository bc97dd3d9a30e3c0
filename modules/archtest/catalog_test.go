package archtest

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// apperrPath is the import path of the package whose codes are checked.
const apperrPath = project + "/modules/platform/apperr"

// catalogs are the message catalogs every code needs an entry in, relative to
// the project root.
var catalogs = []string{"web/i18n/ja", "web/i18n/en"}

// problemsDoc is the page the problem type URIs point at; every code a client
// can receive needs an explicit anchor there.
const problemsDoc = "docs/problems.md"

// codeUse is one place where a code is given as a string literal.
type codeUse struct {
	code string
	pos  string // file:line of the literal
	// internal: the code is raised with apperr.KindInternal. The edge
	// (httpx.ProblemFor) replaces such a code by "internal", so no client
	// ever sees it and it needs neither a catalog entry nor a doc section.
	internal bool
}

// collected are the codes found in some Go files.
type collected struct {
	problems []codeUse // codes of apperr.Error: problem.<code>.title
	fields   []codeUse // codes of apperr.FieldError: field.<code>
}

// collectCodes finds the codes given as string literals in f:
//
//   - problem codes: the second argument of apperr.New and apperr.Wrap, the
//     Code of an apperr.Error composite literal, and "validation" for every
//     call of apperr.Invalid;
//   - field codes: the second argument of apperr.Field, the Code of an
//     apperr.FieldError composite literal, and the code argument of
//     (*apperr.Validator).Add (position 1) and .Check (position 2).
//
// inApperr says that f belongs to package apperr itself, whose names are
// then unqualified. name is how positions are reported. It works on syntax
// alone: a Validator is recognised by the declared names of that type in f
// (parameters, fields, variables, := of a Validator value).
func collectCodes(fset *token.FileSet, f *ast.File, name string, inApperr bool) collected {
	c := codeCollector{fset: fset, name: name, unqualified: inApperr, qualifiers: map[string]bool{}, validators: map[string]bool{}}
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || p != apperrPath {
			continue
		}
		switch {
		case imp.Name == nil:
			c.qualifiers["apperr"] = true
		case imp.Name.Name == ".":
			c.unqualified = true
		case imp.Name.Name != "_":
			c.qualifiers[imp.Name.Name] = true
		}
	}
	if !c.unqualified && len(c.qualifiers) == 0 {
		return collected{} // does not use apperr
	}
	ast.Inspect(f, c.findValidators)
	ast.Inspect(f, c.findCodes)
	return c.out
}

type codeCollector struct {
	fset        *token.FileSet
	name        string
	unqualified bool            // apperr's names may appear bare
	qualifiers  map[string]bool // names apperr is imported as
	validators  map[string]bool // names declared as an apperr.Validator
	out         collected
}

// is reports whether e names apperr's identifier name.
func (c *codeCollector) is(e ast.Expr, name string) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return c.unqualified && e.Name == name
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && c.qualifiers[x.Name] && e.Sel.Name == name
	case *ast.ParenExpr:
		return c.is(e.X, name)
	}
	return false
}

// isValidatorType reports whether e is apperr.Validator or *apperr.Validator.
func (c *codeCollector) isValidatorType(e ast.Expr) bool {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	return c.is(e, "Validator")
}

// isValidatorValue reports whether e makes a Validator: apperr.Validator{},
// &apperr.Validator{} or new(apperr.Validator).
func (c *codeCollector) isValidatorValue(e ast.Expr) bool {
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = u.X
	}
	switch e := e.(type) {
	case *ast.CompositeLit:
		return c.isValidatorType(e.Type)
	case *ast.CallExpr:
		id, ok := e.Fun.(*ast.Ident)
		return ok && id.Name == "new" && len(e.Args) == 1 && c.isValidatorType(e.Args[0])
	}
	return false
}

func (c *codeCollector) findValidators(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.Field: // parameters, results, receivers, struct fields
		if c.isValidatorType(n.Type) {
			for _, id := range n.Names {
				c.validators[id.Name] = true
			}
		}
	case *ast.ValueSpec:
		for i, id := range n.Names {
			if (n.Type != nil && c.isValidatorType(n.Type)) || (i < len(n.Values) && c.isValidatorValue(n.Values[i])) {
				c.validators[id.Name] = true
			}
		}
	case *ast.AssignStmt:
		if len(n.Lhs) != len(n.Rhs) {
			break
		}
		for i, rhs := range n.Rhs {
			if id, ok := n.Lhs[i].(*ast.Ident); ok && c.isValidatorValue(rhs) {
				c.validators[id.Name] = true
			}
		}
	}
	return true
}

// receiverName is the last name of a method call's receiver: "vv" for
// vv.Add, "vv" for s.vv.Add and (*vv).Add.
func receiverName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x.Name
		case *ast.SelectorExpr:
			return x.Sel.Name
		case *ast.ParenExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return ""
		}
	}
}

func (c *codeCollector) findCodes(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.CallExpr:
		switch {
		case (c.is(n.Fun, "New") && len(n.Args) == 2) || (c.is(n.Fun, "Wrap") && len(n.Args) == 3):
			c.add(&c.out.problems, n.Args[1], c.is(n.Args[0], "KindInternal"))
		case c.is(n.Fun, "Invalid"):
			c.out.problems = append(c.out.problems, codeUse{code: "validation", pos: c.pos(n.Pos())})
		case c.is(n.Fun, "Field") && len(n.Args) == 3:
			c.add(&c.out.fields, n.Args[1], false)
		default:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok || !c.validators[receiverName(sel.X)] {
				break
			}
			switch {
			case sel.Sel.Name == "Add" && len(n.Args) == 3:
				c.add(&c.out.fields, n.Args[1], false)
			case sel.Sel.Name == "Check" && len(n.Args) == 4:
				c.add(&c.out.fields, n.Args[2], false)
			}
		}
	case *ast.CompositeLit:
		switch {
		case c.is(n.Type, "Error"):
			code, kind := elements(n, "Code", 1), elements(n, "Kind", 0)
			c.add(&c.out.problems, code, kind != nil && c.is(kind, "KindInternal"))
		case c.is(n.Type, "FieldError"):
			c.add(&c.out.fields, elements(n, "Code", 1), false)
		}
	}
	return true
}

// elements returns the value of field key in composite literal n, or the
// element at index when the literal is unkeyed; nil when there is none.
func elements(n *ast.CompositeLit, key string, index int) ast.Expr {
	for i, e := range n.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == key {
				return kv.Value
			}
			continue
		}
		if i == index {
			return e
		}
	}
	return nil
}

// add records e when it is a string literal; codes computed at run time
// cannot be checked here.
func (c *codeCollector) add(to *[]codeUse, e ast.Expr, internal bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return
	}
	code, err := strconv.Unquote(lit.Value)
	if err != nil {
		return
	}
	*to = append(*to, codeUse{code: code, pos: c.pos(lit.Pos()), internal: internal})
}

func (c *codeCollector) pos(p token.Pos) string {
	return fmt.Sprintf("%s:%d", c.name, c.fset.Position(p).Line)
}

// collectRepo parses every non-test Go file under modules/ and cmd/.
func collectRepo(t *testing.T, root string) collected {
	t.Helper()
	var all collected
	files := 0
	fset := token.NewFileSet()
	for _, dir := range []string{"modules", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if n := d.Name(); path != filepath.Join(root, dir) && (n == "testdata" || n == "vendor" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files++
			relPath, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			relPath = filepath.ToSlash(relPath)
			inApperr := f.Name.Name == "apperr" && filepath.ToSlash(filepath.Dir(relPath)) == "modules/platform/apperr"
			got := collectCodes(fset, f, relPath, inApperr)
			all.problems = append(all.problems, got.problems...)
			all.fields = append(all.fields, got.fields...)
			return nil
		})
		if err != nil {
			t.Fatalf("parsing the Go files under %s: %v", dir, err)
		}
	}
	if files == 0 {
		t.Fatalf("no Go file under modules/ or cmd/ of %s, so nothing was checked", root)
	}
	return all
}

// byCode groups uses by code, the codes sorted.
func byCode(uses []codeUse) ([]string, map[string][]codeUse) {
	m := map[string][]codeUse{}
	for _, u := range uses {
		m[u.code] = append(m[u.code], u)
	}
	codes := make([]string, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes, m
}

// where names the first place a code is used, and how many others there are.
func where(uses []codeUse) string {
	if len(uses) == 1 {
		return uses[0].pos
	}
	return fmt.Sprintf("%s (and %d more)", uses[0].pos, len(uses)-1)
}

// loadCatalog reads a flat JSON message catalog.
func loadCatalog(t *testing.T, root, name string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, name, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("reading catalog %s: no *.json files (%v)", name, err)
	}
	all := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("reading catalog: %v", err)
		}
		var cat map[string]string
		if err := json.Unmarshal(data, &cat); err != nil {
			t.Fatalf("%s is not a flat JSON object of strings: %v", f, err)
		}
		for k, v := range cat {
			all[k] = v
		}
	}
	return all
}

var anchorRE = regexp.MustCompile(`\bid\s*=\s*"([^"]*)"`)

// loadAnchors returns the explicit id="..." anchors of docs/problems.md.
func loadAnchors(t *testing.T, root string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, problemsDoc))
	if err != nil {
		t.Fatalf("reading the problem documentation: %v", err)
	}
	anchors := map[string]bool{}
	for _, m := range anchorRE.FindAllStringSubmatch(string(data), -1) {
		anchors[m[1]] = true
	}
	return anchors
}

// TestEveryProblemCodeIsDocumentedAndTranslated: a client that receives a
// problem gets its title from the catalogs and follows its type URI to
// docs/problems.md#<code>; both must exist for every code it can receive.
func TestEveryProblemCodeIsDocumentedAndTranslated(t *testing.T) {
	root := findRoot(t)
	codes, uses := byCode(collectRepo(t, root).problems)
	// Guard against a collector that silently finds nothing: these two are
	// raised by apperr and httpx themselves.
	for _, must := range []string{"validation", "internal"} {
		if len(uses[must]) == 0 {
			t.Fatalf("the collector found no use of the problem code %q, so it is broken; found %q", must, codes)
		}
	}
	cats := make(map[string]map[string]string, len(catalogs))
	for _, name := range catalogs {
		cats[name] = loadCatalog(t, root, name)
	}
	anchors := loadAnchors(t, root)
	for _, code := range codes {
		us := uses[code]
		if code != "internal" && !slices.ContainsFunc(us, func(u codeUse) bool { return !u.internal }) {
			t.Logf("%s: problem code %q is only raised as KindInternal; clients see \"internal\" instead, so it needs no catalog entry or doc section", where(us), code)
			continue
		}
		key := "problem." + code + ".title"
		for _, name := range catalogs {
			if _, ok := cats[name][key]; !ok {
				t.Errorf("%s: problem code %q has no title: add %q to %s", where(us), code, key, name)
			}
		}
		if !anchors[code] {
			t.Errorf("%s: problem code %q is not documented: add a section with <a id=%q></a> to %s", where(us), code, code, problemsDoc)
		}
	}
}

// TestEveryFieldCodeIsTranslated: every field error code a client can
// receive has its message field.<code> in every catalog (otherwise the
// client gets the generic field.invalid message).
func TestEveryFieldCodeIsTranslated(t *testing.T) {
	root := findRoot(t)
	codes, uses := byCode(collectRepo(t, root).fields)
	if len(codes) == 0 {
		t.Fatal("the collector found no field code under modules/ or cmd/, so it is broken")
	}
	cats := make(map[string]map[string]string, len(catalogs))
	for _, name := range catalogs {
		cats[name] = loadCatalog(t, root, name)
	}
	for _, code := range codes {
		key := "field." + code
		for _, name := range catalogs {
			if _, ok := cats[name][key]; !ok {
				t.Errorf("%s: field code %q has no message: add %q to %s", where(uses[code]), code, key, name)
			}
		}
	}
}

// TestCollectorFindsEveryForm proves the collector on known sources, so the
// tests above cannot pass by finding nothing.
func TestCollectorFindsEveryForm(t *testing.T) {
	const user = `package x

import (
	"time"

	ae "github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

var code = "not_a_literal"

var (
	a = ae.New(ae.KindConflict, "from_new")
	b = ae.Wrap(ae.KindUnavailable, "from_wrap", nil)
	c = &ae.Error{Kind: ae.KindForbidden, Code: "from_literal"}
	d = ae.New(ae.KindInternal, "internal_only")
	e = ae.Invalid(ae.Field("f", "from_field", nil))
	g = ae.New(ae.KindConflict, code)
	h = ae.FieldError{Field: "f", Code: "from_field_literal"}
)

type form struct{ vv *ae.Validator }

func check(v *ae.Validator, fm form, at time.Time, other interface{ Add(a, b, c string) }) {
	w := ae.Validator{}
	v.Add("f", "from_add", nil)
	w.Check(false, "f", "from_check", nil)
	fm.vv.Add("f", "from_field_add", nil)
	at.Add(time.Second)
	other.Add("f", "not_a_validator", "x")
	errors.New("not_apperr")
}
`
	const self = `package apperr

func Invalid(fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Code: "validation", Fields: fields}
}

func (v *Validator) Check(ok bool, field, code string, args map[string]any) {
	if !ok {
		v.Add(field, code, args)
	}
}
`
	fset := token.NewFileSet()
	parse := func(name, src string, inApperr bool) collected {
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		return collectCodes(fset, f, name, inApperr)
	}
	got := parse("user.go", user, false)
	wantProblems := []codeUse{
		{code: "from_new", pos: "user.go:12"},
		{code: "from_wrap", pos: "user.go:13"},
		{code: "from_literal", pos: "user.go:14"},
		{code: "internal_only", pos: "user.go:15", internal: true},
		{code: "validation", pos: "user.go:16"},
	}
	wantFields := []codeUse{
		{code: "from_field", pos: "user.go:16"},
		{code: "from_field_literal", pos: "user.go:18"},
		{code: "from_add", pos: "user.go:25"},
		{code: "from_check", pos: "user.go:26"},
		{code: "from_field_add", pos: "user.go:27"},
	}
	if !slices.Equal(got.problems, wantProblems) {
		t.Errorf("problem codes of user.go:\n got %+v\nwant %+v", got.problems, wantProblems)
	}
	if !slices.Equal(got.fields, wantFields) {
		t.Errorf("field codes of user.go:\n got %+v\nwant %+v", got.fields, wantFields)
	}

	got = parse("apperr.go", self, true)
	if want := []codeUse{{code: "validation", pos: "apperr.go:4"}}; !slices.Equal(got.problems, want) || len(got.fields) != 0 {
		t.Errorf("codes of package apperr itself: got %+v and fields %+v, want %+v and no fields", got.problems, got.fields, want)
	}

	// Not importing apperr: nothing is an apperr call.
	got = parse("other.go", "package y\n\nfunc f() { _ = New(1, \"x\"); _ = &Error{Code: \"y\"} }\n", false)
	if len(got.problems)+len(got.fields) != 0 {
		t.Errorf("a file without apperr yielded codes: %+v", got)
	}
}
