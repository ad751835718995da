package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresInstallHint tells how to install what StartPostgres needs on Debian.
const PostgresInstallHint = `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql`

// Postgres is a throwaway PostgreSQL cluster: trust authentication, no
// fsync, listening on one loopback port and a socket in its directory.
type Postgres struct {
	Dir  string
	Port int

	proc    *process
	created atomic.Int64
}

// postgresBinaries finds initdb and postgres: on PATH, else in Debian's
// versioned directory (the package puts neither on PATH), newest first.
func postgresBinaries() (initdb, postgres string, err error) {
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return initdb, postgres, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if fileExists(i) && fileExists(p) {
			return i, p, nil
		}
	}
	return "", "", fmt.Errorf("%w: no initdb and postgres; install with: %s", ErrUnavailable, PostgresInstallHint)
}

// majorOf reads 15 from /usr/lib/postgresql/15/bin.
func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// postgresCredential: PostgreSQL refuses to run as root, so as root the
// cluster runs as the postgres user the Debian package creates.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root and no postgres user (%v); install with: %s", ErrUnavailable, err, PostgresInstallHint)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// StartPostgres initialises a cluster in a new temporary directory and
// starts it on a free port. Close stops it and removes the directory.
func StartPostgres(ctx context.Context, logf func(string, ...any)) (*Postgres, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	initdb, postgres, err := postgresBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp(clusterParent(cred), "testenv-pg-")
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Dir: dir}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			pg.Close()
			return nil, err
		}
	}
	began := time.Now()
	data := filepath.Join(dir, "data")
	cmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = dir // the postgres user may not enter our working directory
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		pg.Close()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for attempt := 1; ; attempt++ {
		ports, err := pickPorts(1)
		if err != nil {
			pg.Close()
			return nil, err
		}
		pg.Port = ports[0]
		err = pg.start(ctx, postgres, data, cred)
		if err == nil {
			break
		}
		pg.proc.kill()
		if attempt == startAttempts || ctx.Err() != nil {
			pg.Close()
			return nil, err
		}
		logf("testenv: postgres start failed, retrying with a new port: %v", err)
	}
	logf("testenv: postgres up in %v on 127.0.0.1:%d (dir %s)", time.Since(began).Round(time.Millisecond), pg.Port, dir)
	return pg, nil
}

// clusterParent is the temporary directory, unless the postgres user could
// not enter it (a private TMPDIR of root's); then /tmp.
func clusterParent(cred *syscall.Credential) string {
	parent := os.TempDir()
	if fi, err := os.Stat(parent); cred != nil && (err != nil || fi.Mode().Perm()&0o001 == 0) {
		return "/tmp"
	}
	return parent
}

func (pg *Postgres) start(ctx context.Context, postgres, data string, cred *syscall.Credential) error {
	cmd := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(pg.Port), "-k", pg.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300")
	cmd.Dir = pg.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	p, err := startProcess("postgres", filepath.Join(pg.Dir, "postgres.log"), cmd)
	if err != nil {
		return err
	}
	pg.proc = p
	return p.waitReady(ctx, func(ctx context.Context) (bool, error) {
		conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
		if err != nil {
			return false, nil // not up yet
		}
		conn.Close(ctx)
		return true, nil
	})
}

// DSN is the connection string of database db.
func (pg *Postgres) DSN(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", pg.Port, db)
}

// CreateDatabase creates a new, empty database and returns its DSN.
func (pg *Postgres) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), pg.created.Add(1))
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return pg.DSN(name), nil
}

// Close stops the cluster (a fast shutdown, then SIGKILL to the group) and
// removes its directory. Safe on a cluster that never started.
func (pg *Postgres) Close() error {
	if p := pg.proc; p != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		p.kill()
	}
	return os.RemoveAll(pg.Dir)
}
