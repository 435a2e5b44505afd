//go:build !linux

package engine

import "time"

// batch does not exist here: every write is one call (batch_linux.go).
type batch struct{}

func (sh *shard) batcher() *batch { return nil }

func (b *batch) release() {}

func (sh *shard) queue(_ *batch, _ *listener, keep []*listener, _ time.Time) []*listener { return keep }

func (sh *shard) flush(_ *batch, keep []*listener, _ time.Time) []*listener { return keep }
