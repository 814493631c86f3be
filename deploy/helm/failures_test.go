package helm_test

import (
	"strings"
	"testing"
)

// TestRenderRefusesBadValues: what `helm install` and `helm template` say
// when values are missing, misspelt or of the wrong kind. Each case starts
// from the default values file and changes one thing.
func TestRenderRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]any
		want string
	}{
		{"no Teleport address", map[string]any{"teleport.address": ""}, "teleport.address is required"},
		{"no identity Secret", map[string]any{"teleport.identitySecretName": ""}, "teleport.identitySecretName is required"},
		{"no API key Secret", map[string]any{"pager.pagerduty.apiKeySecret.name": ""}, "pager.pagerduty.apiKeySecret.name is required"},
		{"no bot user", map[string]any{"pager.userEmail": ""}, "pager.userEmail is required"},
		{"webhook without TLS", map[string]any{"webhook.tls.secretName": ""}, "webhook.tls.secretName is required"},
		{"webhook without authentication", map[string]any{"webhook.signingSecrets": []any{}}, "the webhook needs authentication"},
		{"signing secret without key", map[string]any{"webhook.signingSecrets": []any{map[string]any{"name": "s", "key": ""}}}, "signingSecrets"},
		{"shared secret header without Secret", map[string]any{"webhook.sharedSecret.header": "X-Secret"}, "webhook.sharedSecret.name is required"},
		{"basic auth without Secret", map[string]any{"webhook.basicAuth.user": "pd"}, "webhook.basicAuth.name is required"},
		{"misspelt key", map[string]any{"teleport.adress": "x:443"}, "adress"},
		{"unknown top-level key", map[string]any{"replicas": 3}, "replicas"},
		{"unknown pager kind", map[string]any{"pager.kind": "splunk"}, "/pager/kind"},
		{"opsgenie without API key Secret", map[string]any{"pager.kind": "opsgenie"}, "pager.opsgenie.apiKeySecret.name is required"},
		{"opsgenie with signing secrets", map[string]any{"pager.kind": "opsgenie", "pager.opsgenie.apiKeySecret.name": "og"},
			"webhook.signingSecrets, webhook.tls.clientCASecretName, webhook.provisionActions and the workflows are PagerDuty's"},
		{"opsgenie with an urgency", map[string]any{"pager.kind": "opsgenie", "pager.opsgenie.apiKeySecret.name": "og", "pager.urgency": "high"},
			"pager.urgency is PagerDuty's"},
		{"opsgenie bound to shifts", map[string]any{"pager.kind": "opsgenie", "pager.opsgenie.apiKeySecret.name": "og", "pager.autoApprove.bindToShift": true},
			"pager.autoApprove.bindToShift needs shift ends"},
		{"wrong type", map[string]any{"replicaCount": "two"}, "replicaCount"},
		{"bad approval mode", map[string]any{"teleport.approvalMode": "yes"}, "approvalMode"},
		{"bindToShift not a boolean", map[string]any{"pager.autoApprove.bindToShift": "yes"}, "bindToShift"},
		{"bad duration", map[string]any{"pager.requestTimeout": "10 seconds"}, "requestTimeout"},
		{"workers out of range", map[string]any{"workers": 5000}, "workers"},
		{"idle spell of zero", map[string]any{"memory.idleAfter": "0s"}, "idleAfter"},
		{"idle spell under a second", map[string]any{"memory.idleAfter": "500ms"}, "idleAfter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := readValues(t, "pagergate/ci/default-values.yaml")
			for k, v := range tc.set {
				setValue(vals, k, v)
			}
			_, err := render(t, vals)
			if err == nil {
				t.Fatalf("render accepted %v", tc.set)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q:\n%v", tc.want, err)
			}
		})
	}
}
