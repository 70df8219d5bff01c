package hub

import (
	"errors"
	"strings"
	"testing"
)

func TestDraftValidate(t *testing.T) {
	ok := Draft{Channels: []string{"news"}, Type: "update", Data: "hello", Retry: NoRetry}
	with := func(f func(d *Draft)) Draft {
		d := ok
		d.Channels = append([]string(nil), ok.Channels...)
		f(&d)
		return d
	}
	tests := []struct {
		name    string
		draft   Draft
		wantErr bool
	}{
		{"valid", ok, false},
		{"valid empty type and data", with(func(d *Draft) { d.Type, d.Data = "", "" }), false},
		{"valid type with space", with(func(d *Draft) { d.Type = "user joined" }), false},
		{"valid type at max length", with(func(d *Draft) { d.Type = strings.Repeat("t", MaxEventTypeLength) }), false},
		{"valid several channels", with(func(d *Draft) { d.Channels = []string{"a", "b", "c"} }), false},
		{"valid retry zero", with(func(d *Draft) { d.Retry = 0 }), false},
		{"valid retry large", with(func(d *Draft) { d.Retry = 1 << 40 }), false},
		{"valid data with CR LF NUL", with(func(d *Draft) { d.Data = "a\rb\r\nc\nd\x00" }), false},

		{"type with LF", with(func(d *Draft) { d.Type = "a\nb" }), true},
		{"type with CR", with(func(d *Draft) { d.Type = "a\rb" }), true},
		{"type with trailing CRLF", with(func(d *Draft) { d.Type = "a\r\n" }), true},
		{"type too long", with(func(d *Draft) { d.Type = strings.Repeat("t", MaxEventTypeLength+1) }), true},
		{"type invalid UTF-8", with(func(d *Draft) { d.Type = "a\xffb" }), true},
		{"data invalid UTF-8", with(func(d *Draft) { d.Data = "ok\xc3" }), true},
		{"data lone surrogate", with(func(d *Draft) { d.Data = "\xed\xa0\x80" }), true},
		{"no channel", with(func(d *Draft) { d.Channels = nil }), true},
		{"empty channel list", with(func(d *Draft) { d.Channels = []string{} }), true},
		{"duplicate channel", with(func(d *Draft) { d.Channels = []string{"a", "b", "a"} }), true},
		{"empty channel name", with(func(d *Draft) { d.Channels = []string{""} }), true},
		{"channel with space", with(func(d *Draft) { d.Channels = []string{"a b"} }), true},
		{"channel with comma", with(func(d *Draft) { d.Channels = []string{"a,b"} }), true},
		{"channel with slash", with(func(d *Draft) { d.Channels = []string{"a/b"} }), true},
		{"channel with star", with(func(d *Draft) { d.Channels = []string{"room:*"} }), true},
		{"channel too long", with(func(d *Draft) { d.Channels = []string{strings.Repeat("c", MaxChannelNameLength+1)} }), true},
		{"second channel bad", with(func(d *Draft) { d.Channels = []string{"a", "b\n"} }), true},
		{"retry below NoRetry", with(func(d *Draft) { d.Retry = -2 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.draft.Validate()
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, does not wrap ErrInvalid", err)
			}
			if msg := err.Error(); len(msg) > 300 {
				t.Errorf("error message is %d bytes; a huge input must not make a huge message", len(msg))
			}
		})
	}
}
