package client_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/ssehub/sse_hub/client"
	"github.com/ssehub/sse_hub/ssehub/hub"
)

// The client mirrors the hub's info types rather than importing them (it
// must not pull in the server); this pins the two to the same JSON.
func TestInfoTypesMatchTheHubs(t *testing.T) {
	for _, pair := range []struct{ client, hub any }{
		{client.HubInfo{}, hub.HubInfo{}},
		{client.ChannelInfo{}, hub.ChannelInfo{}},
		{client.HubTotals{}, hub.Stats{}},
	} {
		got, want := jsonFields(pair.client), jsonFields(pair.hub)
		if !slices.Equal(got, want) {
			t.Errorf("%T has JSON fields %q, the hub's %T has %q", pair.client, got, pair.hub, want)
		}
	}
}

// jsonFields lists a struct's JSON tags with their field types' kinds.
func jsonFields(v any) []string {
	typ := reflect.TypeOf(v)
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if tag := f.Tag.Get("json"); tag != "-" { // not in the JSON
			out = append(out, tag+" "+f.Type.Kind().String())
		}
	}
	slices.Sort(out)
	return out
}
