package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// FakeSettings describes the in-process fake PagerDuty of `pager "fake"
// {}` (SPEC §11), which the real PagerDuty client talks to.
type FakeSettings struct {
	// PagerDuty is the client's side: the token and bot email the fake
	// accepts (defaults "fake-api-key" and "pagergate@example.com"), its
	// rate limit and timeouts; APIEndpoint is empty until the fake
	// listens.
	PagerDuty PagerDutySettings
	// ListenAddr is where the fake listens. Default "127.0.0.1:0".
	ListenAddr string
	// SeedFile is an optional HCL/JSON seed file read by the fake.
	SeedFile string
	// Users, Services and OnCalls seed the fake; an on-call level of 0 in
	// the file becomes 1.
	Users    []FakeUser
	Services []FakeService
	OnCalls  []FakeOnCall
}

// Fake is the body of `pager "fake" {}` past the shared and PagerDuty
// keys, as decoded.
type Fake struct {
	ListenAddr string        `hcl:"listen_addr,optional"`
	SeedFile   string        `hcl:"seed_file,optional"`
	Users      []FakeUser    `hcl:"user,block"`
	Services   []FakeService `hcl:"service,block"`
	OnCalls    []FakeOnCall  `hcl:"on_call,block"`
}

// FakeUser is a `user "<email>" {}` block of the fake pager.
type FakeUser struct {
	Email string `hcl:"email,label"`
	Name  string `hcl:"name,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// FakeService is a `service "<name>" {}` block of the fake pager.
type FakeService struct {
	Name string `hcl:"name,label"`
	ID   string `hcl:"id,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// FakeOnCall is an `on_call {}` block of the fake pager: user is on call
// for the service's escalation policy at level.
type FakeOnCall struct {
	User    string `hcl:"user"`
	Service string `hcl:"service"`
	Level   int    `hcl:"level,optional"` // default 1

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// fakeBody is the decoded body of a fake pager block.
type fakeBody struct {
	pagerDuty PagerDuty
	fake      Fake
}

func init() {
	registerPager(PagerFake, pagerKind{
		defaults: FakeDefaults,
		decode: func(c *checker, body hcl.Body, _ block) any {
			var f fakeBody
			c.decode(body, &f.pagerDuty)
			c.decode(f.pagerDuty.Remain, &f.fake)
			return &f
		},
		check: func(c *checker, decoded any, b block, d PagerSettings, out *PagerSettings) any {
			f := decoded.(*fakeBody)
			c.email(b, "user_email", f.pagerDuty.UserEmail)
			if f.pagerDuty.APIEndpoint != "" || has(b.body, "api_endpoint") {
				c.errorf(attrRange(b.body, "api_endpoint", b.def), "Unexpected argument for the fake pager",
					"pager.fake.api_endpoint is not used: the fake runs in-process and pagergate talks to its listen_addr.")
				f.pagerDuty.APIEndpoint = ""
			}
			def := d.Vendor.(*FakeSettings)
			s := c.fake(&f.fake, b, def)
			s.PagerDuty = *c.pagerDuty(&f.pagerDuty, b, &def.PagerDuty, out)
			return s
		},
	})
}

func (c *checker) fake(p *Fake, b block, d *FakeSettings) *FakeSettings {
	out := &FakeSettings{
		ListenAddr: c.listenAddr(b, "listen_addr", p.ListenAddr, d.ListenAddr),
		SeedFile:   p.SeedFile,
	}
	users := map[string]bool{}
	for _, u := range p.Users {
		key := strings.ToLower(u.Email)
		switch {
		case !isEmail(u.Email):
			c.errorf(u.DefRange, "Invalid email address", "%s %q: the label must be the user's email address.", b.key("user"), u.Email)
		case users[key]:
			c.errorf(u.DefRange, "Duplicate user", "%s %q is declared twice.", b.key("user"), u.Email)
		}
		users[key] = true
		u.DefRange = hcl.Range{}
		out.Users = append(out.Users, u)
	}
	services := map[string]bool{}
	for _, s := range p.Services {
		key := strings.ToLower(s.Name)
		if s.Name == "" || services[key] {
			c.errorf(s.DefRange, "Duplicate service", "%s %q is empty or declared twice (names are case-insensitive).", b.key("service"), s.Name)
		}
		services[key] = true
		if s.ID != "" {
			services[strings.ToLower(s.ID)] = true
		}
		s.DefRange = hcl.Range{}
		out.Services = append(out.Services, s)
	}
	for _, o := range p.OnCalls {
		if o.Level < 0 {
			c.errorf(o.DefRange, "Invalid value", "%s level must be 1 or more; got %d.", b.key("on_call"), o.Level)
		}
		if o.Level == 0 {
			o.Level = fakeLevel
		}
		if p.SeedFile == "" {
			if !users[strings.ToLower(o.User)] {
				c.errorf(o.DefRange, "Unknown user", "%s names user %q, which no user block declares.", b.key("on_call"), o.User)
			}
			if !services[strings.ToLower(o.Service)] {
				c.errorf(o.DefRange, "Unknown service", "%s names service %q, which no service block declares.", b.key("on_call"), o.Service)
			}
		}
		o.DefRange = hcl.Range{}
		out.OnCalls = append(out.OnCalls, o)
	}
	return out
}
