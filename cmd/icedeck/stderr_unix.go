//go:build unix

package main

import (
	"os"
	"syscall"
)

// redirectStderr points file descriptor 2 at f while the interface owns
// the terminal: libraries that print there (ALSA's probing, a runtime
// crash) land in the log instead of over the screen.
func redirectStderr(f *os.File) (restore func()) {
	saved, err := syscall.Dup(2)
	if err != nil {
		return func() {}
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		syscall.Close(saved)
		return func() {}
	}
	return func() {
		_ = syscall.Dup3(saved, 2, 0)
		syscall.Close(saved)
	}
}
