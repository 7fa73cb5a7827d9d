package experiments

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// Defaults for keys a file leaves out.
const (
	// DefaultValidation is the paper's 1,000 validation images per set (the
	// authors' utils/loader.py).
	DefaultValidation = loaders.PaperValImages
	// DefaultSplitSeed is the authors' np.random.seed(3).
	DefaultSplitSeed = loaders.PaperSplitSeed
	DefaultEvalBatch = 256
	DefaultOut       = "out"
)

// document is the TOML file as decoded: the typed File plus the method
// tables, which are decoded later into each detector's configuration.
type document struct {
	File
	Method map[string]toml.Primitive `toml:"method"`
}

// Error is a configuration error located in the file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // dotted key, when there is one
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Load reads and validates a plan.
func Load(path string) (*Plan, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// Parse validates a plan from TOML source; name is used in errors.
func Parse(name string, src []byte) (*Plan, error) {
	ps, err := newParser(name, src)
	if err != nil {
		return nil, err
	}
	for _, section := range []func() error{ps.scalars, ps.lists, ps.ids, ps.customOOD, ps.oodSets, ps.settings,
		ps.networks, ps.methods, ps.unknownKeys} {
		if err := section(); err != nil {
			return nil, err
		}
	}
	return ps.plan(), nil
}

// parser is a file being parsed into a plan, a method per section; the
// sections run in order, each after those it depends on.
type parser struct {
	name string // the file, in errors
	src  []byte
	md   toml.MetaData
	raw  map[string]any // the file as untyped TOML
	doc  document
	f    File // doc.File with the defaults filled in
	p    *Plan
}

// newParser decodes the file.
func newParser(name string, src []byte) (*parser, error) {
	ps := &parser{name: name, src: src, p: &Plan{Source: name}}
	var err error
	if ps.md, err = toml.NewDecoder(bytes.NewReader(src)).Decode(&ps.doc); err != nil {
		return nil, decodeError(name, "", err)
	}
	// The decoder wraps a negative integer into an unsigned field
	// (seeds = [-1] became seed 2^64 − 1): refuse it, naming the key.
	if _, err := toml.Decode(string(src), &ps.raw); err != nil {
		return nil, decodeError(name, "", err)
	}
	if key, v, ok := negativeUnsigned(ps.raw, reflect.TypeOf(ps.doc.File), ""); ok {
		return nil, ps.fail(key, "%d is negative: want an integer ≥ 0", v)
	}
	ps.f = ps.doc.File
	return ps, nil
}

// fail is an error at key.
func (ps *parser) fail(key, format string, args ...any) error {
	return &Error{File: ps.name, Line: lineOf(ps.src, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// scalars checks the plan's name and numbers and fills in the defaults.
func (ps *parser) scalars() error {
	f := &ps.f
	if f.Name == "" {
		return ps.fail("name", "missing: give the plan a name (it prefixes records)")
	}
	if !loaders.ValidName(f.Name) {
		return ps.fail("name", "%q must be lower-case kebab-case", f.Name)
	}
	if !ps.md.IsDefined("validation") {
		f.Validation = DefaultValidation
	}
	if !ps.md.IsDefined("split_seed") {
		f.SplitSeed = DefaultSplitSeed
	}
	if f.EvalBatch == 0 {
		f.EvalBatch = DefaultEvalBatch
	}
	if f.Out == "" {
		f.Out = DefaultOut
	}
	if f.NoiseImages == 0 {
		f.NoiseImages = loaders.DefaultNoiseImages
	}
	if len(f.Seeds) == 0 {
		f.Seeds = []uint64{1}
	}
	if len(f.Settings) == 0 {
		f.Settings = []string{string(ood.Transductive)}
	}
	for key, v := range map[string]int{"validation": f.Validation, "noise_images": f.NoiseImages, "eval_batch": f.EvalBatch,
		"train_images": f.TrainImages, "test_images": f.TestImages, "ood_images": f.OODImages, "bootstrap": f.Bootstrap} {
		if v < 0 {
			return ps.fail(key, "%d is negative", v)
		}
	}
	if f.Validation < 1 {
		return ps.fail("validation", "want at least 1 validation image")
	}
	switch f.IDValidation {
	case "":
		f.IDValidation = IDValidationSplit
	case IDValidationSplit, IDValidationAfterTest:
	default:
		return ps.fail("id_validation", "%q, want %q or %q", f.IDValidation, IDValidationSplit, IDValidationAfterTest)
	}
	if f.IDValidation == IDValidationAfterTest && f.TestImages == 0 {
		return ps.fail("id_validation", "%q needs test_images: the first test_images ID test images are scored, validation comes after them", f.IDValidation)
	}
	if f.IDValidation == IDValidationSplit && f.TestImages > 0 && f.TestImages <= f.Validation {
		return ps.fail("test_images", "%d leaves no test images after %d for validation", f.TestImages, f.Validation)
	}
	if f.OODImages > 0 && f.OODImages <= f.Validation {
		return ps.fail("ood_images", "%d leaves no test images after %d for validation", f.OODImages, f.Validation)
	}
	return nil
}

// lists checks that the matrix's lists are not empty and name nothing
// twice.
func (ps *parser) lists() error {
	f := &ps.f
	for _, list := range []struct {
		key   string
		names []string
	}{{"id", f.ID}, {"networks", f.Networks}, {"ood", f.OOD}, {"methods", f.Methods}, {"settings", f.Settings}} {
		if len(list.names) == 0 {
			return ps.fail(list.key, "empty: list at least one")
		}
		for i, n := range list.names {
			if slices.Contains(list.names[:i], n) {
				return ps.fail(list.key, "%q is listed twice", n)
			}
		}
	}
	for i, s := range f.Seeds {
		if slices.Contains(f.Seeds[:i], s) {
			return ps.fail("seeds", "seed %d is listed twice", s)
		}
	}
	return nil
}

// ids checks the in-distribution sets.
func (ps *parser) ids() error {
	for _, id := range ps.f.ID {
		if !slices.Contains(loaders.IDNames(), id) {
			return ps.fail("id", "unknown in-distribution set %q (known: %s)", id, strings.Join(loaders.IDNames(), ", "))
		}
	}
	return nil
}

// customOOD checks the [[custom_ood]] sets and adds them to the plan.
func (ps *parser) customOOD() error {
	for i, c := range ps.f.CustomOOD {
		fit, err := loaders.ParseFit(c.Fit)
		if err != nil {
			return &Error{File: ps.name, Line: lineOfEntry(ps.src, "custom_ood", i, "fit"), Key: "custom_ood.fit",
				Msg: fmt.Sprintf("entry %d (%s): %v", i+1, c.Name, err)}
		}
		lc := loaders.Custom{Name: c.Name, Path: c.Path, Fit: fit}
		if err := lc.Validate(); err != nil {
			key := "name"
			var ce *loaders.CustomError
			if errors.As(err, &ce) {
				key = ce.Key
			}
			return &Error{File: ps.name, Line: lineOfEntry(ps.src, "custom_ood", i, key), Key: "custom_ood." + key,
				Msg: fmt.Sprintf("entry %d: %v", i+1, err)}
		}
		if slices.Contains(loaders.Names(), c.Name) {
			return ps.fail("custom_ood.name", "%q is a built-in set; choose another name", c.Name)
		}
		ps.p.Custom = append(ps.p.Custom, lc)
	}
	return nil
}

// oodSets checks the OOD list: built-in or custom sets, none of them
// in-distribution.
func (ps *parser) oodSets() error {
	for _, o := range ps.f.OOD {
		if !slices.Contains(loaders.Names(), o) && !slices.ContainsFunc(ps.p.Custom, func(c loaders.Custom) bool { return c.Name == o }) {
			return ps.fail("ood", "unknown OOD set %q (built-in: %s; or declare it in [[custom_ood]])", o, strings.Join(loaders.Names(), ", "))
		}
		if slices.Contains(loaders.IDNames(), o) {
			return ps.fail("ood", "%q is an in-distribution set", o)
		}
	}
	return nil
}

// settings checks the settings, and the cross setting's pool.
func (ps *parser) settings() error {
	f := &ps.f
	for _, s := range f.Settings {
		st, err := ood.ParseSetting(s)
		if err != nil {
			return ps.fail("settings", "%v", err)
		}
		if st == ood.Cross {
			if f.CrossPool == "" {
				return ps.fail("cross_pool", "setting cross needs cross_pool: the OOD set whose images form the unlabelled pool")
			}
			if !slices.Contains(f.OOD, f.CrossPool) {
				return ps.fail("cross_pool", "%q is not in the ood list", f.CrossPool)
			}
			if len(f.OOD) < 2 {
				return ps.fail("settings", "setting cross needs at least two OOD sets")
			}
		}
	}
	return nil
}

// networks checks each listed network and its [network.NAME] recipe and
// adds them to the plan.
func (ps *parser) networks() error {
	f := &ps.f
	// A misspelt recipe key would otherwise surface as a bad value of the
	// key it missed.
	for _, k := range ps.md.Undecoded() {
		if ks := k.String(); strings.HasPrefix(ks, "network.") {
			return ps.fail(ks, "unknown key (check its spelling and the table it is in)")
		}
	}
	for _, name := range f.Networks {
		spec, err := nets.ParseSpec(name)
		if err != nil {
			return ps.fail("networks", "%v", err)
		}
		r, ok := f.Network[name]
		if !ok {
			return ps.fail("networks", "network %q has no [network.%s] recipe", name, name)
		}
		key := "network." + name
		if r.Published() {
			if field, err := checkPublished(spec, &r, f.ID); err != nil {
				return ps.fail(key+"."+field, "%v", err)
			}
		} else if field, err := r.validate(); err != nil {
			return ps.fail(key+"."+field, "%v", err)
		}
		if r.Dropout > 0 && !spec.TakesDropout() {
			return ps.fail(key+".dropout", "dropout applies to wrn networks only")
		}
		spec.Dropout = r.Dropout
		ps.p.Networks = append(ps.p.Networks, Network{Name: name, Spec: spec, Recipe: r})
	}
	for name := range f.Network {
		if !slices.Contains(f.Networks, name) {
			return ps.fail("network."+name, "recipe for a network that is not in the networks list")
		}
	}
	return nil
}

// methods checks each listed method and adds it to the plan: a registered
// detector, or an alias with detector = "...", with its [method.NAME]
// parameters.
func (ps *parser) methods() error {
	for _, name := range ps.f.Methods {
		m, err := ps.method(name)
		if err != nil {
			return err
		}
		ps.p.Methods = append(ps.p.Methods, m)
	}
	for name := range ps.doc.Method {
		if !slices.Contains(ps.f.Methods, name) {
			return ps.fail("method."+name, "parameters for a method that is not in the methods list")
		}
	}
	return nil
}

// method is the listed method name, decoded from its table if it has one.
func (ps *parser) method(name string) (Method, error) {
	m := Method{Name: name, Detector: name}
	prim, hasTable := ps.doc.Method[name]
	if hasTable {
		var alias struct {
			Detector string   `toml:"detector"`
			OOD      []string `toml:"ood"`
		}
		if err := ps.md.PrimitiveDecode(prim, &alias); err != nil {
			return m, decodeError(ps.name, "method."+name, err)
		}
		if alias.Detector != "" {
			m.Detector = alias.Detector
		}
		if ps.md.IsDefined("method", name, "ood") && len(alias.OOD) == 0 {
			return m, ps.fail("method."+name+".ood", "empty: list the OOD sets the method runs on, or leave the key out for all")
		}
		for i, o := range alias.OOD {
			if !slices.Contains(ps.f.OOD, o) {
				return m, ps.fail("method."+name+".ood", "%q is not in the plan's ood list", o)
			}
			if slices.Contains(alias.OOD[:i], o) {
				return m, ps.fail("method."+name+".ood", "%q is listed twice", o)
			}
		}
		m.OOD = alias.OOD
	}
	reg, err := ood.Lookup(m.Detector)
	if err != nil {
		key := "methods"
		if hasTable {
			key = "method." + name + ".detector"
		}
		return m, ps.fail(key, "%v", err)
	}
	m.Config = reg.NewConfig()
	if hasTable {
		if err := ps.md.PrimitiveDecode(prim, m.Config); err != nil {
			return m, decodeError(ps.name, "method."+name, err)
		}
		table, _ := ps.raw["method"].(map[string]any)
		if key, v, ok := negativeUnsigned(table[name], reflect.TypeOf(m.Config), "method."+name+"."); ok {
			return m, ps.fail(key, "%d is negative: want an integer ≥ 0", v)
		}
	}
	if _, err := reg.Build(m.Config); err != nil {
		return m, ps.fail("method."+name, "%v", err)
	}
	return m, nil
}

// unknownKeys refuses any key not decoded by now: a key nobody reads, a
// typo.
func (ps *parser) unknownKeys() error {
	if und := ps.md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return ps.fail(k, "unknown key (check its spelling and the table it is in)")
	}
	return nil
}

// plan completes the plan: its file, the cross setting's pools and the
// cells.
func (ps *parser) plan() *Plan {
	p, f := ps.p, ps.f
	p.Name, p.File = f.Name, f
	if slices.Contains(f.Settings, string(ood.Cross)) {
		p.crossPools = map[string]string{}
		for i, name := range f.OOD {
			p.crossPools[name] = f.CrossPool
			if name == f.CrossPool {
				p.crossPools[name] = f.OOD[(i+1)%len(f.OOD)] // ≠ name: the list has two sets or more
			}
		}
	}
	p.expand()
	return p
}

// expand lists the plan's cells: ID sets × networks × seeds × settings × OOD
// sets × methods, in that order.
func (p *Plan) expand() {
	f := p.File
	p.Cells = nil
	for _, id := range f.ID {
		for _, net := range f.Networks {
			for _, seed := range f.Seeds {
				for _, setting := range f.Settings {
					for _, o := range f.OOD {
						for _, m := range f.Methods {
							if only := p.Method(m).OOD; len(only) > 0 && !slices.Contains(only, o) {
								continue
							}
							c := Cell{ID: id, Network: net, OOD: o, Method: m, Setting: setting, Seed: seed}
							c.Key, c.Group = p.cellKeys(c)
							p.Cells = append(p.Cells, c)
						}
					}
				}
			}
		}
	}
}

// SetSeeds replaces the plan's seeds (the --seeds of mcdood reproduce) and
// lists its cells again.
func (p *Plan) SetSeeds(seeds []uint64) error {
	if len(seeds) == 0 {
		return fmt.Errorf("no seeds")
	}
	for i, s := range seeds {
		if slices.Contains(seeds[:i], s) {
			return fmt.Errorf("seed %d is listed twice", s)
		}
	}
	p.File.Seeds = slices.Clone(seeds)
	p.expand()
	return nil
}

// OnlyOOD keeps the plan's cells on these OOD sets (the --ood of mcdood
// reproduce), each of which must be one of the plan's; the cells' keys do not
// change, so their records are the full plan's.
func (p *Plan) OnlyOOD(sets []string) error {
	return p.only(&p.File.OOD, "OOD sets", sets)
}

// OnlyMethods keeps the plan's cells of these methods (the --methods of
// mcdood reproduce), as OnlyOOD does for OOD sets.
func (p *Plan) OnlyMethods(methods []string) error {
	return p.only(&p.File.Methods, "methods", methods)
}

// only narrows one of the plan's lists to names, each of which must be on it,
// and lists the cells again.
func (p *Plan) only(list *[]string, what string, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no %s", what)
	}
	for i, n := range names {
		if !slices.Contains(*list, n) {
			return fmt.Errorf("%q is not one of the plan's %s %q", n, what, *list)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("%q is listed twice", n)
		}
	}
	*list = slices.Clone(names)
	p.expand()
	return nil
}

var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// Check reports what is wrong with a recipe, naming the key.
func (r Recipe) Check() error {
	if field, err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// validate returns the offending field's key with the error.
func (r Recipe) validate() (string, error) {
	switch {
	case r.Epochs < 1:
		return "epochs", fmt.Errorf("%d, want ≥ 1", r.Epochs)
	case r.Batch < 1:
		return "batch", fmt.Errorf("%d, want ≥ 1", r.Batch)
	case r.LR <= 0:
		return "lr", fmt.Errorf("%v, want > 0", r.LR)
	case r.Momentum < 0 || r.Momentum >= 1:
		return "momentum", fmt.Errorf("%v, want in [0, 1)", r.Momentum)
	case r.WeightDecay < 0:
		return "weight_decay", fmt.Errorf("%v, want ≥ 0", r.WeightDecay)
	case r.Dropout < 0 || r.Dropout >= 1:
		return "dropout", fmt.Errorf("%v, want in [0, 1)", r.Dropout)
	case r.LRStart < 0 || r.LRStart > 1 || r.LREnd < 0 || r.LREnd > 1:
		return "lr_start", fmt.Errorf("lr_start %v and lr_end %v: want fractions of lr in [0, 1]", r.LRStart, r.LREnd)
	case (r.LRStart != 0 || r.LREnd != 0) && r.Schedule != "onecycle":
		return "lr_start", fmt.Errorf("lr_start and lr_end apply to schedule onecycle only")
	case r.LabelSmoothing < 0 || r.LabelSmoothing >= 1:
		return "label_smoothing", fmt.Errorf("%v, want in [0, 1)", r.LabelSmoothing)
	case r.BiasLRScale < 0:
		return "bias_lr_scale", fmt.Errorf("%v, want ≥ 0 (0 or 1: no scaling)", r.BiasLRScale)
	case r.WhitenBiasEpochs < 0:
		return "whiten_bias_epochs", fmt.Errorf("%d, want ≥ 0", r.WhitenBiasEpochs)
	case r.TTA < 0 || r.TTA > 2:
		return "tta", fmt.Errorf("%d, want 0 (none), 1 (mirror) or 2 (mirror and translate)", r.TTA)
	case r.EMA != nil && (r.EMA.Start < 0 || r.EMA.Every < 1 || r.EMA.Decay <= 0 || r.EMA.Decay >= 1 || r.EMA.Power < 0):
		return "ema", fmt.Errorf("%+v: want start ≥ 0, every ≥ 1, decay in (0, 1), power ≥ 0", *r.EMA)
	}
	switch r.Schedule {
	case "step":
		if len(r.Milestones) == 0 || r.Gamma <= 0 {
			return "schedule", fmt.Errorf("step needs milestones (epochs) and gamma > 0")
		}
	case "onecycle":
		if r.Warmup <= 0 || r.Warmup >= float64(r.Epochs) {
			return "warmup", fmt.Errorf("schedule onecycle needs warmup (the peak epoch) in (0, epochs)")
		}
	case "cosine", "constant":
	default:
		return "schedule", fmt.Errorf("%q, want step, cosine, onecycle or constant", r.Schedule)
	}
	return "", nil
}

// decodeError locates a TOML decoding error in the file: a syntax error
// or a type mismatch ("toml: line N (last key "K"): ..."), at the line and
// key the decoder names; key is the fallback for an error without them.
func decodeError(file, key string, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
	}
	var ppe *toml.ParseError
	if errors.As(err, &ppe) {
		return &Error{File: file, Line: ppe.Position.Line, Key: ppe.LastKey, Msg: ppe.Message}
	}
	if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Key: m[2], Msg: m[3]}
	}
	return &Error{File: file, Key: key, Msg: err.Error()}
}

// negativeUnsigned finds a negative integer in raw (the TOML as decoded
// into maps) where t, the type it decodes into, has an unsigned field or a
// slice of them, following nested structs, pointers and maps of structs;
// it returns the dotted key under prefix.
func negativeUnsigned(raw any, t reflect.Type, prefix string) (string, int64, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	table, ok := raw.(map[string]any)
	if !ok {
		return "", 0, false
	}
	switch t.Kind() {
	case reflect.Map:
		for k, v := range table {
			if key, n, ok := negativeUnsigned(v, t.Elem(), prefix+k+"."); ok {
				return key, n, true
			}
		}
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
			if sf.Anonymous && name == "" {
				if key, n, ok := negativeUnsigned(raw, sf.Type, prefix); ok {
					return key, n, true
				}
				continue
			}
			if name == "" || name == "-" {
				name = sf.Name
			}
			v, ok := table[name]
			if !ok {
				continue
			}
			ft := sf.Type
			if ft.Kind() == reflect.Slice && isUnsigned(ft.Elem()) {
				list, _ := v.([]any)
				for _, e := range list {
					if n, ok := e.(int64); ok && n < 0 {
						return prefix + name, n, true
					}
				}
			} else if isUnsigned(ft) {
				if n, ok := v.(int64); ok && n < 0 {
					return prefix + name, n, true
				}
			} else if key, n, ok := negativeUnsigned(v, ft, prefix+name+"."); ok {
				return key, n, true
			}
		}
	}
	return "", 0, false
}

func isUnsigned(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// lineOfEntry finds the line of key in the i-th (0-based) table of the
// array of tables [[array]]; else the line of its header; 0 when not found.
func lineOfEntry(src []byte, array string, i int, key string) int {
	sc := bufio.NewScanner(bytes.NewReader(src))
	entry, header := -1, 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			if entry == i {
				break
			}
			if strings.Trim(line, "[] ") == array && strings.HasPrefix(line, "[[") {
				entry++
				if entry == i {
					header = n
				}
			} else if entry < i {
				continue
			}
			continue
		}
		if entry != i {
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
			return n
		}
	}
	return header
}

// lineOf finds the line defining a dotted key ("network.small.lr",
// "validation", "method.odin") by following table headers; 0 when not found.
func lineOf(src []byte, key string) int {
	if key == "" {
		return 0
	}
	parts := strings.Split(key, ".")
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	best := 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[] ")
			if table == key && best == 0 {
				best = n
			}
			continue
		}
		eq := strings.Index(line, "=")
		if eq < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		k := strings.Trim(strings.TrimSpace(line[:eq]), `"`)
		full := k
		if table != "" {
			full = table + "." + k
		}
		if full == key {
			return n
		}
		// A key of a table of arrays ("custom_ood.fit" under [[custom_ood]]).
		if best == 0 && len(parts) > 1 && table == strings.Join(parts[:len(parts)-1], ".") && k == parts[len(parts)-1] {
			best = n
		}
	}
	return best
}
