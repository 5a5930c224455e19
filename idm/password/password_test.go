package password

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(2, 2)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(ctx, phc, "correct horse"); !ok || err != nil {
		t.Fatalf("verify right password = %v, %v", ok, err)
	}
	if ok, _ := h.Verify(ctx, phc, "wrong"); ok {
		t.Fatal("wrong password verified")
	}
	if ok, err := h.Verify(ctx, "", "anything"); ok || err != nil {
		t.Fatalf("empty hash: %v, %v", ok, err)
	}
	if _, err := h.Verify(ctx, "$argon2id$v=19$m=999999999,t=2,p=1$AAAA$AAAA", "x"); err == nil {
		t.Fatal("absurd parameters accepted")
	}
}

func TestQueueIsBounded(t *testing.T) {
	h := NewHasher(1, 1)
	var wg sync.WaitGroup
	busy := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.Hash(context.Background(), "pw"); errors.Is(err, ErrBusy) {
				busy <- err
			}
		}()
	}
	wg.Wait()
	if len(busy) == 0 {
		t.Fatal("16 concurrent hashes with room for 2: none was refused")
	}
}
