package ssehub

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lean"
)

// A panic recovered anywhere in the module reaches the module's hook,
// which counts it by goroutine.
func TestRecoveredPanicsAreCounted(t *testing.T) {
	initMetrics()
	counter := promMetrics.panics.WithLabelValues(lean.PanicWorker)
	value := func() float64 {
		var m dto.Metric
		if err := counter.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	before := value()
	hub.ReportPanic(lean.PanicWorker, "injected")
	if got := value(); got != before+1 {
		t.Fatalf("caddy_sse_hub_panics_total{where=%q} went from %v to %v, want +1", lean.PanicWorker, before, got)
	}
}
