package ports

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
)

// Two keys fold alike exactly when encoding/json reads the second into the
// field named by the first.
func TestFoldDeliveryKeyMatchesEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"userId", "USERID", true},
		{"userId", "uſerId", true},
		{"incident_key", "incident_\u212aey", true},
		{"messages", "meſſages", true},
		{"alertId", "alertıd", false},
		{"userId", "userIds", false},
	} {
		if got := FoldDeliveryKey(tc.a) == FoldDeliveryKey(tc.b); got != tc.same {
			t.Errorf("FoldDeliveryKey(%q) == FoldDeliveryKey(%q) is %v, want %v", tc.a, tc.b, got, tc.same)
		}
		typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:"` + tc.a + `"`)}})
		v := reflect.New(typ)
		if err := json.Unmarshal([]byte(`{`+strconv.Quote(tc.b)+`:"x"}`), v.Interface()); err != nil {
			t.Fatal(err)
		}
		if read := v.Elem().Field(0).String() == "x"; read != tc.same {
			t.Errorf("encoding/json reads %q into %q: %v, want %v", tc.b, tc.a, read, tc.same)
		}
	}
}
