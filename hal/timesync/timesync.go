package timesync

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/edgerec/edgerec/hal/fsutil"
)

// FileName is the list's name in the config file's directory.
const FileName = "ntp-servers"

// Servers is the NTP server list at Path.
type Servers struct {
	Path string
}

// NTPServers returns the servers listed (comments and blank lines are
// skipped, as the time service does); none when there is no file.
func (s Servers) NTPServers(ctx context.Context) ([]string, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("timesync: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.Fields(l)...)
	}
	return out, sc.Err()
}

// SetNTPServers writes the list atomically (temporary file, fsync,
// rename). The caller has checked the names; an empty list writes a file
// with the comment only, which means the pool.
func (s Servers) SetNTPServers(ctx context.Context, servers []string) error {
	var b strings.Builder
	b.WriteString("# NTP servers, one per line (written by the edgerec Settings page); none: the pool\n")
	for _, v := range servers {
		if v == "" || strings.ContainsAny(v, " \t\r\n#") {
			return fmt.Errorf("timesync: bad server name %q", v)
		}
		b.WriteString(v)
		b.WriteByte('\n')
	}
	if err := fsutil.WriteFile(s.Path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("timesync: %w", err)
	}
	return nil
}
