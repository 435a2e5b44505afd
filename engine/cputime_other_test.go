//go:build !unix

package engine

import "time"

// processCPU is not measured here; benchmarks leave out its metric.
func processCPU() time.Duration { return 0 }
