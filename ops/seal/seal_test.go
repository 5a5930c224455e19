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

func TestRingRotation(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s, err := New(k1)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := s.Seal([]byte("v"), []byte("a"))
	if id, ok := KeyOf(old); !ok || id != IDOf(k1) {
		t.Fatalf("KeyOf = %v %v, want %v", id, ok, IDOf(k1))
	}
	// Learn k2 without using it: seals stay under k1.
	if err := s.Add(k2, false); err != nil {
		t.Fatal(err)
	}
	if s.Current() != IDOf(k1) {
		t.Fatal("adding a key for opening changed the sealing key")
	}
	if err := s.Add(k2, true); err != nil {
		t.Fatal(err)
	}
	if got := s.IDs(); len(got) != 2 || got[0] != IDOf(k2) || got[1] != IDOf(k1) {
		t.Fatalf("ring = %v", got)
	}
	fresh, _ := s.Seal([]byte("w"), []byte("a"))
	if id, _ := KeyOf(fresh); id != IDOf(k2) {
		t.Fatal("the current key does not seal")
	}
	for _, v := range [][]byte{old, fresh} {
		if _, err := s.Open(v, []byte("a")); err != nil {
			t.Fatalf("open during rotation: %v", err)
		}
	}
	s.Retain()
	if _, err := s.Open(old, []byte("a")); err == nil {
		t.Fatal("a value of the retired key still opens")
	}
	if _, err := s.Open(fresh, []byte("a")); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFormat1(t *testing.T) {
	// Values sealed before key ids existed: format byte 1, nonce, ciphertext.
	k := bytes.Repeat([]byte{5}, 32)
	s, _ := NewRing([][]byte{bytes.Repeat([]byte{6}, 32), k})
	rk, _ := newKey(k)
	nonce := make([]byte, 12)
	v := rk.aead.Seal(append([]byte{format1}, nonce...), nonce, []byte("old"), []byte("x"))
	if p, err := s.Open(v, []byte("x")); err != nil || string(p) != "old" {
		t.Fatalf("open format 1 = %q, %v", p, err)
	}
	for _, junk := range [][]byte{nil, {2}, {2, 1, 2}, {9, 9, 9}} {
		if _, err := s.Open(junk, []byte("x")); err == nil {
			t.Fatalf("opened %v", junk)
		}
	}
}
