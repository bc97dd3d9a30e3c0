package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// project is the main module's path. The sdk and the plugins live under it too,
// each as a Go module of its own.
const project = "github.com/yoyaku-oss/yoyaku"

// moduleOrder is the dependency order of ARCHITECTURE.md ("Modules"): a module
// may import only the modules before it. Keep the two in step.
const moduleOrder = "platform tenants auditlog identity menus timeslots members reservations notify notices integrations"

// edge is one direct import: the package from imports the package to (both
// import paths). An edge with an empty to stands for a package that imports
// nothing, so that a package of an unknown module is still seen.
type edge struct {
	from, to string
}

// checkImports returns one readable message per import that breaks the rules,
// in the order of edges. It is pure so that a test can feed it forbidden edges.
func checkImports(edges []edge) []string {
	var msgs []string
	seen := make(map[string]bool)
	add := func(msg string) {
		if !seen[msg] {
			seen[msg] = true
			msgs = append(msgs, msg)
		}
	}
	unknownReported := make(map[string]bool)
	for _, e := range edges {
		from, ok := rel(e.from)
		if !ok {
			continue
		}
		if under(from, "sdk") {
			if msg := checkSDKImport(e); msg != "" {
				add(msg)
			}
			continue
		}
		if plugin, ok := pluginOf(from); ok {
			if msg := checkPluginImport(plugin, e); msg != "" {
				add(msg)
			}
			continue
		}
		x, ok := moduleOf(from)
		if !ok || x == "archtest" {
			continue // cmd, sdk, web, migrations: the rules below are about modules
		}
		known := rank(x) >= 0
		if !known && !unknownReported[x] {
			// Once per module, not per import: one message says what to do.
			unknownReported[x] = true
			add(unknownModule(x, e))
		}
		if e.to == "" {
			continue
		}
		if msg := checkModuleImport(x, known, e); msg != "" {
			add(msg)
		}
	}
	return msgs
}

// checkModuleImport checks an import made by a package of module x.
func checkModuleImport(x string, known bool, e edge) string {
	prefix := display(e.from) + " imports " + display(e.to) + ": "
	to, inProject := rel(e.to)
	switch {
	case inProject && under(to, "cmd"):
		return prefix + "no module imports cmd; cmd/yoyaku wires the modules, not the other way round"
	case inProject && under(to, "plugins"):
		return prefix + "no module imports a plugin; declare a port in the module and let modules/integrations implement it"
	case inProject && under(to, "sdk"):
		if x != "integrations" {
			return prefix + "only modules/integrations may import the sdk"
		}
	case isProtobuf(e.to):
		if x != "integrations" {
			return prefix + "core modules never import generated protobuf or gRPC code; only modules/integrations may (declare a port and let it implement it)"
		}
	case inProject && known:
		// web and migrations hold only embedded files: anyone may import them,
		// and like everything outside modules/ they fall through here.
		y, ok := moduleOf(to)
		if !ok {
			break
		}
		if y == "archtest" {
			return prefix + "modules/archtest holds only the architecture test; nothing imports it"
		}
		// An unknown y is reported at its own packages.
		if ry := rank(y); ry > rank(x) {
			return fmt.Sprintf("%s%s comes before %s in ARCHITECTURE.md's order, so it may not depend on it (read the event from the outbox or have cmd/yoyaku hand it a function)", prefix, x, y)
		}
	}
	return ""
}

// checkSDKImport checks an import made by a package of the sdk module: it
// imports nothing of this project outside sdk/, since plugins depend on it
// alone.
func checkSDKImport(e edge) string {
	to, inProject := rel(e.to)
	if e.to == "" || !inProject || under(to, "sdk") {
		return ""
	}
	return display(e.from) + " imports " + display(e.to) + ": the sdk imports nothing of this project outside sdk/ (plugins depend on the sdk alone)"
}

// checkPluginImport checks an import made by a package of plugins/<plugin>.
func checkPluginImport(plugin string, e edge) string {
	to, inProject := rel(e.to)
	if e.to == "" || !inProject || under(to, "sdk") || under(to, "plugins/"+plugin) {
		return ""
	}
	return display(e.from) + " imports " + display(e.to) + ": a plugin may import only the sdk (" + project + "/sdk/...) from this project"
}

func unknownModule(x string, e edge) string {
	prefix := display(e.from)
	if e.to != "" {
		prefix += " imports " + display(e.to)
	}
	if x == "" {
		return prefix + ": a package directly in modules/ belongs to no module; move it into a module named in ARCHITECTURE.md"
	}
	return fmt.Sprintf("%s: modules/%s is not a module named in ARCHITECTURE.md; add it to the order there and here", prefix, x)
}

// rel returns p relative to the project root ("." for the root itself) and
// whether p is under the project at all.
func rel(p string) (string, bool) {
	if p == project {
		return ".", true
	}
	return strings.CutPrefix(p, project+"/")
}

// under reports whether the slash path p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// display is how messages name an import path: project paths relative to the
// root, except the sdk, which is named in full since it is a module of its own.
func display(p string) string {
	if r, ok := rel(p); ok && !under(r, "sdk") {
		return r
	}
	return p
}

// moduleOf returns the module a project-relative path belongs to ("menus" for
// modules/menus/store) and whether the path is under modules/ at all; a
// package directly in modules/ belongs to the module "".
func moduleOf(r string) (string, bool) {
	if r == "modules" {
		return "", true
	}
	rest, ok := strings.CutPrefix(r, "modules/")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return name, true
}

// pluginOf returns the plugin a project-relative path belongs to.
func pluginOf(r string) (string, bool) {
	rest, ok := strings.CutPrefix(r, "plugins/")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return name, name != ""
}

// rank is the module's position in moduleOrder, or -1 when it is not there.
func rank(module string) int {
	return slices.Index(strings.Fields(moduleOrder), module)
}

// isProtobuf reports whether p is protobuf or gRPC runtime or generated code.
func isProtobuf(p string) bool {
	for _, dir := range []string{
		"google.golang.org/protobuf",
		"google.golang.org/grpc",
		"google.golang.org/genproto",
		"github.com/golang/protobuf",
	} {
		if under(p, dir) {
			return true
		}
	}
	return false
}

func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("the go command is not on PATH: %v", err)
	}
	root := findRoot(t)

	var edges []edge
	listed := 0
	for _, p := range goList(t, root) {
		if p.Standard {
			continue
		}
		if _, ok := rel(p.ImportPath); !ok {
			continue
		}
		listed++
		edges = append(edges, p.edges(p.ImportPath)...)
	}
	if listed == 0 {
		t.Fatalf("go list in %s listed no package of %s, so nothing was checked", root, project)
	}

	// Each plugin is a Go module of its own, which go list ./... above does not
	// enter; list it from its own directory.
	gomods, err := filepath.Glob(filepath.Join(root, "plugins", "*", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if len(gomods) == 0 {
		t.Log("no plugin module under plugins/ yet")
	}
	for _, gomod := range gomods {
		dir := filepath.Dir(gomod)
		name := filepath.Base(dir)
		modPath, err := modulePath(gomod)
		if err != nil {
			t.Errorf("plugins/%s: %v", name, err)
			continue
		}
		// Messages name the plugin by its folder even if its module path differs.
		label := project + "/plugins/" + name
		for _, p := range goList(t, dir) {
			if p.Standard {
				continue
			}
			if suffix, ok := strings.CutPrefix(p.ImportPath, modPath); ok && (suffix == "" || suffix[0] == '/') {
				edges = append(edges, p.edges(label+suffix)...)
			}
		}
	}

	// The sdk is a Go module of its own too.
	if _, err := os.Stat(filepath.Join(root, "sdk", "go.mod")); err == nil {
		for _, p := range goList(t, filepath.Join(root, "sdk")) {
			if !p.Standard && under(p.ImportPath, project+"/sdk") {
				edges = append(edges, p.edges(p.ImportPath)...)
			}
		}
	}

	for _, msg := range checkImports(edges) {
		t.Error(msg)
	}
}

// listedPackage holds the fields of go list -json that the rules need.
type listedPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Error      *struct{ Err string }
}

// edges returns the package's direct imports as edges from the import path
// from, or the edge with an empty to when it imports nothing.
func (p listedPackage) edges(from string) []edge {
	if len(p.Imports) == 0 {
		if p.Error != nil {
			// Listed only because something imports it, but it does not
			// exist (yet); the build reports that.
			return nil
		}
		return []edge{{from: from}}
	}
	edges := make([]edge, 0, len(p.Imports))
	for _, imp := range p.Imports {
		edges = append(edges, edge{from: from, to: imp})
	}
	return edges
}

// goList runs go list -e -deps -json ./... in dir. A package that does not
// build is still listed, with its error in the JSON: compile failures are for
// other tests, this one only judges imports.
func goList(t *testing.T, dir string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-json", "./...")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		t.Fatalf("running go list in %s: %v", dir, runErr)
	}

	var pkgs []listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("decoding go list output from %s: %v\nstderr:\n%s", dir, err, stderr.Bytes())
		}
		pkgs = append(pkgs, p)
	}
	if runErr != nil {
		if len(pkgs) == 0 {
			t.Errorf("go list in %s failed and listed nothing, so its imports are unchecked: %v\n%s", dir, runErr, stderr.Bytes())
		} else {
			t.Logf("go list in %s: %v (build errors are left to other tests)\n%s", dir, runErr, stderr.Bytes())
		}
	}
	return pkgs
}

// findRoot walks up from the working directory to the directory whose go.mod
// declares the project module.
func findRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		gomod := filepath.Join(dir, "go.mod")
		if path, err := modulePath(gomod); err == nil && path == project {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod declaring module %s above the working directory", project)
		}
		dir = parent
	}
}

// modulePath reads the module directive of a go.mod file.
func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"' && rest[0] != '`') {
			continue
		}
		return strings.Trim(strings.TrimSpace(rest), "\"`"), nil
	}
	return "", fmt.Errorf("%s has no module directive", gomod)
}

func TestCheckImportsCatchesViolations(t *testing.T) {
	const (
		m   = project + "/modules/"
		sdk = project + "/sdk"
	)
	tests := []struct {
		from, to string
		want     []string // what the one message must name; nil when the import is allowed
	}{
		// Allowed.
		{from: m + "tenants", to: m + "platform/db"},
		{from: m + "platform/httpx", to: m + "platform/apperr"},
		{from: m + "platform/apperr", to: m + "platform/httpx"},
		{from: m + "integrations", to: sdk},
		{from: m + "integrations/host", to: sdk + "/plugin/v1"},
		{from: m + "integrations", to: "google.golang.org/grpc"},
		{from: m + "reservations", to: m + "menus"},
		{from: m + "menus/store", to: m + "menus"},
		{from: m + "platform", to: project + "/web"},
		{from: m + "notices", to: project + "/web"},
		{from: m + "platform/dbx", to: project + "/migrations"},
		{from: m + "tenants", to: project + "/migrations"},
		{from: m + "menus", to: "fmt"},
		{from: m + "platform/httpx", to: "github.com/gin-gonic/gin"},
		{from: m + "archtest", to: m + "integrations"},
		{from: m + "menus"},
		{from: project + "/cmd/yoyaku", to: m + "integrations"},
		{from: project + "/plugins/stripe", to: sdk + "/payments"},
		{from: project + "/plugins/stripe", to: project + "/plugins/stripe/internal/api"},
		{from: project + "/plugins/stripe", to: "google.golang.org/grpc"},
		{from: sdk + "/host", to: sdk + "/manifest"},
		{from: sdk, to: "github.com/hashicorp/go-plugin"},

		// Forbidden.
		{from: m + "platform", to: m + "tenants", want: []string{"modules/platform", "modules/tenants"}},
		{from: m + "menus", to: m + "reservations", want: []string{"modules/menus", "modules/reservations"}},
		{from: m + "menus/store", to: m + "timeslots", want: []string{"modules/menus/store", "modules/timeslots"}},
		{from: m + "tenants", to: sdk, want: []string{"modules/tenants", sdk}},
		{from: m + "notify", to: project + "/cmd/yoyaku", want: []string{"modules/notify", "cmd/yoyaku"}},
		{from: m + "integrations", to: project + "/cmd/yoyaku", want: []string{"modules/integrations", "cmd/yoyaku"}},
		{from: m + "reservations", to: project + "/plugins/stripe", want: []string{"modules/reservations", "plugins/stripe"}},
		{from: m + "members", to: "google.golang.org/protobuf/proto", want: []string{"modules/members", "google.golang.org/protobuf/proto"}},
		{from: m + "notices", to: "google.golang.org/grpc/status", want: []string{"modules/notices", "google.golang.org/grpc/status"}},
		{from: m + "foo", to: m + "platform", want: []string{"modules/foo", "modules/platform"}},
		{from: m + "billing/invoice", want: []string{"modules/billing/invoice", "modules/billing is not a module"}},
		{from: m + "menus", to: m + "archtest", want: []string{"modules/menus", "modules/archtest"}},
		{from: project + "/plugins/stripe", to: m + "reservations", want: []string{"plugins/stripe", "modules/reservations"}},
		{from: project + "/plugins/stripe/internal/api", to: project + "/cmd/yoyaku", want: []string{"plugins/stripe/internal/api", "cmd/yoyaku"}},
		{from: project + "/plugins/stripe", to: project + "/plugins/square", want: []string{"plugins/stripe", "plugins/square"}},
		{from: sdk + "/host", to: m + "platform/apperr", want: []string{sdk + "/host", "modules/platform/apperr"}},
		{from: sdk + "/examples/hello", to: project + "/plugins/stripe", want: []string{sdk + "/examples/hello", "plugins/stripe"}},
	}

	var all []edge
	forbidden := 0
	for _, tt := range tests {
		e := edge{from: tt.from, to: tt.to}
		all = append(all, e)
		if tt.want != nil {
			forbidden++
		}
		name := display(tt.from) + " imports " + display(tt.to)
		if tt.to == "" {
			name = display(tt.from) + " imports nothing"
		}
		t.Run(name, func(t *testing.T) {
			msgs := checkImports([]edge{e})
			if tt.want == nil {
				if len(msgs) != 0 {
					t.Errorf("allowed import reported: %q", msgs)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("got %d messages, want 1: %q", len(msgs), msgs)
			}
			for _, name := range tt.want {
				if !strings.Contains(msgs[0], name) {
					t.Errorf("message %q does not name %s", msgs[0], name)
				}
			}
		})
	}

	// Together, the edges still give one message per forbidden import.
	if msgs := checkImports(all); len(msgs) != forbidden {
		t.Errorf("all edges at once: got %d messages, want %d:\n%s", len(msgs), forbidden, strings.Join(msgs, "\n"))
	}
}
