package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// evalContext is what expressions in a configuration file can use: the
// functions env and file, no variables. Relative file() paths are taken
// from dir, the directory of the configuration file.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunc,
			"file": fileFunc(dir),
		},
	}
}

// envFunc is env("NAME") or env("NAME", "default"): the environment
// variable, the default when it is unset, else an error.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable.",
	Params: []function.Parameter{
		{Name: "name", Type: cty.String},
	},
	VarParam: &function.Parameter{Name: "default", Type: cty.String},
	Type:     function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
		}
		name := args[0].AsString()
		if v, ok := os.LookupEnv(name); ok {
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %s is not set: export it, or put %s=<value> into /etc/pagergate.env, the systemd unit's EnvironmentFile (README.md, Run)", name, name)
	},
})

// fileFunc is file("path"): the file's content without its trailing
// newline. Relative paths are joined to dir.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file, without a trailing newline.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return cty.NilVal, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
			}
			s := string(b)
			if strings.HasSuffix(s, "\n") {
				s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
			}
			return cty.StringVal(s), nil
		},
	})
}

// unwrapPathError drops the *fs.PathError wrapper, whose message repeats
// the path.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
