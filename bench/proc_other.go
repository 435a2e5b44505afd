//go:build !unix

package bench

import (
	"os"
	"os/exec"
)

// ownGroup does nothing here: a timeout kills the command alone.
func ownGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}

func signalOf(*os.ProcessState) string { return "" }
