//go:build !linux

package playback

// RedirectStderr does nothing outside Linux (libasound is Linux-only); see
// the Linux version. restore is a no-op.
func RedirectStderr(path string) (restore func() error, err error) {
	return func() error { return nil }, nil
}
