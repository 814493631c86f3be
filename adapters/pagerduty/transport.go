package pagerduty

import (
	"strings"
)

// Every PagerDuty call goes through one httpretry.Transport (rate limit,
// per-attempt timeout, retries of 429, 408, 5xx and timeouts, metrics,
// reachability). PagerDuty names the wait after a 429 in Retry-After or,
// failing that, ratelimit-reset.
const resetHeader = "Ratelimit-Reset"

// endpointOf names a call for metrics and logs: the method and the path
// with IDs replaced, e.g. "POST /incidents/{id}/notes".
func endpointOf(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 1; i < len(parts); i += 2 {
		if parts[i] != "me" && parts[i] != "" {
			parts[i] = "{id}"
		}
	}
	return method + " /" + strings.Join(parts, "/")
}
