//go:build !unix

package playback

// RedirectStderr does nothing where there are no Unix descriptors; see
// the Unix version. restore is a no-op.
func RedirectStderr(path string) (restore func() error, err error) {
	return func() error { return nil }, nil
}
