package seal

import (
	"bytes"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Seal([]byte("secret"), []byte("k1"))
	b, _ := s.Seal([]byte("secret"), []byte("k1"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	if bytes.Contains(a, []byte("secret")) {
		t.Fatal("sealed value holds the plain text")
	}
	got, err := s.Open(a, []byte("k1"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.Open(a, []byte("k2")); err == nil {
		t.Fatal("opened with the wrong aad")
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(a, []byte("k1")); err == nil {
		t.Fatal("opened with another key")
	}
	if _, err := New(key[:16]); err == nil {
		t.Fatal("accepted a 16-byte key")
	}
}
