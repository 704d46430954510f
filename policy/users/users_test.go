package users

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "jdoe", "j.doe-2_x", "0day"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00b", "ab\n", "a\tb", "a\x7f", "Jdoe", "j doe", "jöe", ".a", "-a", strings.Repeat("a", 65)} {
		if err := CheckName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
	if err := CheckName("a\x01"); !strings.Contains(err.Error(), "control character") {
		t.Errorf("control character message: %v", err)
	}
}

func TestUserNeverPrintsHash(t *testing.T) {
	u := User{ID: "u-1", Name: "jdoe", Hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "user", u)
	if out := buf.String() + fmt.Sprint(u) + fmt.Sprintf("%v %s", u, u); strings.Contains(out, "argon2id") {
		t.Fatal(out)
	}
}

// FuzzDecodeUser: the stored-user decoder never panics or over-allocates.
func FuzzDecodeUser(f *testing.F) {
	u := User{ID: "u-1", Name: "jdoe", Hash: "$argon2id$x", Cameras: []string{"cam-1"}}
	v, _ := u.MarshalMsg(nil)
	f.Add(v)
	f.Add([]byte{0x81, 0xa4, 'c', 'a', 'm', 's', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		u, err := Decode(in)
		if err == nil && CheckName(u.Name) != nil {
			t.Fatal("bad name accepted")
		}
	})
}
