package metrics

import (
	"fmt"
	"net/http"

	"github.com/pagergate/pagergate/ports"
)

// Health serves GET /healthz (200 while the process runs) and GET /readyz
// (ReadyHandler). It is the one implementation of both: the metrics
// listener serves it, and so does the webhook listener.
func Health(checks ports.Readiness) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /readyz", ReadyHandler(checks))
	return mux
}
