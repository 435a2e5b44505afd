//go:build unix

package playback

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// RedirectStderr points file descriptor 2 at the file path (appending,
// created 0600) so that libasound's "ALSA lib ..." lines, which it writes
// straight to fd 2 while oto probes devices, cannot garble a TUI. Go's
// os.Stderr (and panics) then go to that file too. Call it before the first
// Play, typically when the TUI starts. restore puts the original fd 2 back.
// On systems without Unix descriptors it does nothing.
func RedirectStderr(path string) (restore func() error, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("redirect stderr: %w", err)
	}
	defer f.Close()
	saved, err := unix.Dup(2)
	if err != nil {
		return nil, fmt.Errorf("redirect stderr: %w", err)
	}
	unix.CloseOnExec(saved)
	if err := unix.Dup2(int(f.Fd()), 2); err != nil {
		_ = unix.Close(saved)
		return nil, fmt.Errorf("redirect stderr: %w", err)
	}
	var once sync.Once
	return func() error {
		err := errors.New("redirect stderr: already restored")
		once.Do(func() {
			err = unix.Dup2(saved, 2)
			_ = unix.Close(saved)
		})
		return err
	}, nil
}
