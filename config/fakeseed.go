package config

import (
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// FakeSeed is a seed file of the fake PagerDuty written in HCL (SPEC §11):
// the user, service and on_call blocks of `pager "fake" {}`, and incident
// blocks. The same content in JSON is read by the fake itself.
//
//	user "alice@example.com" {
//	  name = "Alice"
//	}
//	service "Teleport Access Requests" {
//	  id = "PTELEPO"
//	}
//	on_call {
//	  user    = "alice@example.com"
//	  service = "Teleport Access Requests"
//	  level   = 1
//	}
//	incident {
//	  service   = "Teleport Access Requests"
//	  title     = "Disk full"
//	  assignees = ["alice@example.com"]
//	}
type FakeSeed struct {
	Users     []FakeUser     `hcl:"user,block"`
	Services  []FakeService  `hcl:"service,block"`
	OnCalls   []FakeOnCall   `hcl:"on_call,block"`
	Incidents []FakeIncident `hcl:"incident,block"`
}

// FakeIncident is an `incident {}` block of a seed file: an incident open
// (or in Status) in Service before anything runs.
type FakeIncident struct {
	Service   string   `hcl:"service"`
	Key       string   `hcl:"key,optional"`
	Title     string   `hcl:"title,optional"`
	Details   string   `hcl:"details,optional"`
	Status    string   `hcl:"status,optional"`
	Assignees []string `hcl:"assignees,optional"`
}

// LoadFakeSeed reads an HCL seed file. Unknown blocks and keys are errors
// with file:line:col (a *DiagError); an on_call without a level gets
// level 1.
func LoadFakeSeed(path string) (*FakeSeed, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &DiagError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read seed file", Detail: err.Error()}}, Err: err}
	}
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, path)
	var seed FakeSeed
	if !diags.HasErrors() {
		diags = append(diags, gohcl.DecodeBody(f.Body, nil, &seed)...)
	}
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: p.Files()}
	}
	for i := range seed.OnCalls {
		if seed.OnCalls[i].Level == 0 {
			seed.OnCalls[i].Level = fakeLevel
		}
	}
	return &seed, nil
}
