package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// OpsgenieFakeSettings describe the in-process fake Opsgenie of `pager
// "opsgenie-fake" {}`, which the real Opsgenie client talks to, for
// staging and demos.
type OpsgenieFakeSettings struct {
	// Opsgenie is the client's side: the key the fake accepts (default
	// "fake-genie-key"), the alert settings, rate limit and timeouts;
	// APIURL is empty until the fake listens.
	Opsgenie OpsgenieSettings
	// ListenAddr is where the fake listens. Default "127.0.0.1:0".
	ListenAddr string
	// SeedFile is an optional seed file of the fake (HCL, or JSON).
	SeedFile string
	// Users, Teams, Schedules and OnCalls seed the fake.
	Users     []OpsgenieFakeUser
	Teams     []OpsgenieFakeTeam
	Schedules []OpsgenieFakeSchedule
	OnCalls   []OpsgenieFakeOnCall
}

// OpsgenieFake is the body of `pager "opsgenie-fake" {}` past the shared
// and Opsgenie keys, as decoded.
type OpsgenieFake struct {
	ListenAddr string                 `hcl:"listen_addr,optional"`
	SeedFile   string                 `hcl:"seed_file,optional"`
	Users      []OpsgenieFakeUser     `hcl:"user,block"`
	Teams      []OpsgenieFakeTeam     `hcl:"team,block"`
	Schedules  []OpsgenieFakeSchedule `hcl:"schedule,block"`
	OnCalls    []OpsgenieFakeOnCall   `hcl:"on_call,block"`
}

// OpsgenieFakeUser is a `user "<username>" {}` block: an Opsgenie user,
// whose username is their email.
type OpsgenieFakeUser struct {
	Username string `hcl:"username,label"`
	FullName string `hcl:"full_name,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// OpsgenieFakeTeam is a `team "<name>" {}` block.
type OpsgenieFakeTeam struct {
	Name    string   `hcl:"name,label"`
	Members []string `hcl:"members,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// OpsgenieFakeSchedule is a `schedule "<name>" {}` block.
type OpsgenieFakeSchedule struct {
	Name      string `hcl:"name,label"`
	OwnerTeam string `hcl:"owner_team,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// OpsgenieFakeOnCall is an `on_call {}` block: a user, or a team, is on
// call in the schedule's rotation now.
type OpsgenieFakeOnCall struct {
	Schedule string `hcl:"schedule"`
	User     string `hcl:"user,optional"`
	Team     string `hcl:"team,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// OpsgenieFakeDefaults returns the defaults of a `pager "opsgenie-fake"
// {}` block: Opsgenie's, with the key the fake accepts, no API URL (the
// fake's address is known once it listens) and its listen address.
func OpsgenieFakeDefaults() PagerSettings {
	p := OpsgenieDefaults()
	og := *opsgenieDefaults()
	og.APIKey = "fake-genie-key"
	og.APIURL = ""
	p.Kind = PagerOpsgenieFake
	p.Vendor = &OpsgenieFakeSettings{Opsgenie: og, ListenAddr: "127.0.0.1:0"}
	return p
}

// opsgenieFakeBody is the decoded body of a fake Opsgenie block.
type opsgenieFakeBody struct {
	opsgenie Opsgenie
	fake     OpsgenieFake
}

func init() {
	registerPager(PagerOpsgenieFake, pagerKind{
		defaults: OpsgenieFakeDefaults,
		decode: func(c *checker, body hcl.Body, _ block) any {
			var f opsgenieFakeBody
			c.decode(body, &f.opsgenie)
			c.decode(f.opsgenie.Remain, &f.fake)
			return &f
		},
		check: func(c *checker, decoded any, b block, d PagerSettings, out *PagerSettings) any {
			f := decoded.(*opsgenieFakeBody)
			if has(b.body, "api_url") {
				c.errorf(attrRange(b.body, "api_url", b.def), "Unexpected argument for the fake Opsgenie",
					"pager.opsgenie-fake.api_url is not used: the fake runs in-process and pagergate talks to its listen_addr.")
				f.opsgenie.APIURL = ""
			}
			def := d.Vendor.(*OpsgenieFakeSettings)
			s := c.opsgenieFake(&f.fake, b, def)
			s.Opsgenie = *c.opsgenie(&f.opsgenie, b, &def.Opsgenie, out)
			return s
		},
		webhook: opsgenieWebhook,
	})
}

// opsgenieFake checks the fake's seed blocks: names declared once, on-call
// entries naming exactly one of a user or a team, and (without a seed file
// that may declare more) only declared names.
func (c *checker) opsgenieFake(f *OpsgenieFake, b block, d *OpsgenieFakeSettings) *OpsgenieFakeSettings {
	out := &OpsgenieFakeSettings{ListenAddr: c.listenAddr(b, "listen_addr", f.ListenAddr, d.ListenAddr), SeedFile: f.SeedFile}
	users, teams, schedules := map[string]bool{}, map[string]bool{}, map[string]bool{}
	declare := func(seen map[string]bool, kind, name string, at hcl.Range) {
		key := strings.ToLower(strings.TrimSpace(name))
		if key == "" || seen[key] {
			c.errorf(at, "Duplicate "+kind, "%s %q is empty or declared twice (names are case-insensitive).", b.key(kind), name)
		}
		seen[key] = true
	}
	for _, u := range f.Users {
		if !isEmail(u.Username) {
			c.errorf(u.DefRange, "Invalid email address", "%s %q: the label must be the user's username, an email address.", b.key("user"), u.Username)
		}
		declare(users, "user", u.Username, u.DefRange)
		u.DefRange = hcl.Range{}
		out.Users = append(out.Users, u)
	}
	for _, t := range f.Teams {
		declare(teams, "team", t.Name, t.DefRange)
		t.DefRange = hcl.Range{}
		out.Teams = append(out.Teams, t)
	}
	for _, s := range f.Schedules {
		declare(schedules, "schedule", s.Name, s.DefRange)
		s.DefRange = hcl.Range{}
		out.Schedules = append(out.Schedules, s)
	}
	for _, o := range f.OnCalls {
		c.opsgenieFakeOnCall(o, b, f.SeedFile == "", users, teams, schedules)
		o.DefRange = hcl.Range{}
		out.OnCalls = append(out.OnCalls, o)
	}
	return out
}

func (c *checker) opsgenieFakeOnCall(o OpsgenieFakeOnCall, b block, strict bool, users, teams, schedules map[string]bool) {
	if (o.User == "") == (o.Team == "") {
		c.errorf(o.DefRange, "Invalid on_call block", "%s names exactly one of user or team; got user %q, team %q.", b.key("on_call"), o.User, o.Team)
		return
	}
	if !strict {
		return
	}
	if !schedules[strings.ToLower(o.Schedule)] {
		c.errorf(o.DefRange, "Unknown schedule", "%s names schedule %q, which no schedule block declares.", b.key("on_call"), o.Schedule)
	}
	if o.User != "" && !users[strings.ToLower(o.User)] {
		c.errorf(o.DefRange, "Unknown user", "%s names user %q, which no user block declares.", b.key("on_call"), o.User)
	}
	if o.Team != "" && !teams[strings.ToLower(o.Team)] {
		c.errorf(o.DefRange, "Unknown team", "%s names team %q, which no team block declares.", b.key("on_call"), o.Team)
	}
}
