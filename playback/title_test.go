package playback

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icedeck/icedeck/engine/frame"
	"github.com/icedeck/icedeck/internal/testkit"
)

// TestTitleAgreesWithAnalyser: the title the player shows for an Ogg stream
// is the one the relay's analyser reports for it (and so the one the mount
// shows). Streams encoded by ffmpeg with each combination of ARTIST and
// TITLE, in each Ogg codec the player decodes.
func TestTitleAgreesWithAnalyser(t *testing.T) {
	testkit.NeedTool(t, "ffmpeg")
	dir := t.TempDir()
	codecs := []struct{ name, args string }{
		{"vorbis", "-c:a libvorbis -q:a 0"},
		{"opus", "-c:a libopus -b:a 32k"},
		{"flac", "-c:a flac -sample_fmt s16"},
	}
	tags := []struct {
		name, artist, title, want string
	}{
		{"both", "Night Band", "Blue Hour", "Night Band - Blue Hour"},
		{"title-only", "", "Blue Hour", "Blue Hour"},
		{"artist-only", "Night Band", "", "Night Band"},
		{"neither", "", "", ""},
	}
	for _, c := range codecs {
		for _, tg := range tags {
			t.Run(c.name+"/"+tg.name, func(t *testing.T) {
				path := filepath.Join(dir, c.name+"-"+tg.name+".ogg")
				args := []string{"-v", "error", "-y", "-fflags", "+bitexact", "-f", "lavfi", "-i", "sine=f=440:d=0.5:r=48000"}
				args = append(args, strings.Fields(c.args)...)
				if tg.artist != "" {
					args = append(args, "-metadata", "artist="+tg.artist)
				}
				if tg.title != "" {
					args = append(args, "-metadata", "title="+tg.title)
				}
				args = append(args, "-f", "ogg", path)
				if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
					t.Fatalf("ffmpeg: %v\n%s", err, out)
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				a := frame.NewAnalyzer("audio/ogg")
				a.Feed(data)
				analysed := a.Stats().Title
				d, err := decodeBytes(t, data, "audio/ogg")
				if err != nil {
					t.Fatal(err)
				}
				if len(d.infos) == 0 {
					t.Fatal("no segment")
				}
				played := d.infos[0].Title
				if played != analysed || played != tg.want {
					t.Errorf("player shows %q, analyser reports %q, want %q", played, analysed, tg.want)
				}
			})
		}
	}
}
