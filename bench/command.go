package bench

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Var is a placeholder a command's arguments may hold ({url}), and the
// environment variable (ICEDECK_URL) set to the same value.
type Var struct {
	Name, Env, Value string
}

// Vars are the placeholders, in the order the documentation lists them.
func (b *Bench) Vars() []Var {
	v := func(name, value string) Var {
		return Var{Name: "{" + name + "}", Env: "ICEDECK_" + strings.ToUpper(name), Value: value}
	}
	return []Var{
		v("url", b.SourceURL()), v("http_url", b.HTTPURL()), v("base", b.Base()),
		v("host", b.Host()), v("port", b.Port()), v("user", b.User()), v("password", b.Password()), v("mount", b.Mount()),
	}
}

// Expand replaces the placeholders wherever they appear inside args.
func Expand(args []string, vars []Var) []string {
	pairs := make([]string, 0, 2*len(vars))
	for _, v := range vars {
		pairs = append(pairs, v.Name, v.Value)
	}
	r := strings.NewReplacer(pairs...)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}

// CommandResult is how the client under test ended.
type CommandResult struct {
	Args     []string      `json:"args"` // as given, placeholders unexpanded (they hold the password)
	Exit     int           `json:"exit"` // -1 when killed by a signal
	Signal   string        `json:"signal,omitempty"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Timeout  time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// RunOptions are where a command's input and output go, and how long it
// may run.
type RunOptions struct {
	Timeout        time.Duration // 0: until ctx is done
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs args[0] with args[1:], placeholders expanded and the ICEDECK_*
// variables set, and waits for it to exit, for the timeout, or for ctx.
// A command still running then is killed, with whatever it started; so
// is what it leaves running when it exits. The error is for a command
// that could not be started.
func (b *Bench) Run(ctx context.Context, args []string, o RunOptions) (*CommandResult, error) {
	if len(args) == 0 {
		return nil, errors.New("no command")
	}
	res := &CommandResult{Args: args, Timeout: o.Timeout}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	vars := b.Vars()
	argv := Expand(args, vars)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	for _, v := range vars {
		cmd.Env = append(cmd.Env, v.Env+"="+v.Value)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	ownGroup(cmd)
	// Output still copied from a child the command left behind is cut
	// short rather than waited for.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	res.Seconds = time.Since(start).Seconds()
	killGroup(cmd)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.TimedOut = true
	}
	res.Exit = -1
	if ps := cmd.ProcessState; ps != nil {
		res.Exit, res.Signal = ps.ExitCode(), signalOf(ps)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) && res.Signal == "" {
		res.Signal = err.Error()
	}
	return res, nil
}
