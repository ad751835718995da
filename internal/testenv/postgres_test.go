package testenv

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresClusterAnswersAndLeavesNothing starts a private cluster,
// runs a query on a fresh database, closes it and checks that no process
// of its group and no directory is left.
func TestPostgresClusterAnswersAndLeavesNothing(t *testing.T) {
	if _, _, err := postgresBinaries(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := pg.CreateDatabase(ctx)
	if err != nil {
		pg.Close()
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		pg.Close()
		t.Fatal(err)
	}
	var one int
	err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	conn.Close(ctx)
	if err != nil || one != 1 {
		t.Errorf("SELECT 1 = %d, %v", one, err)
	}
	pgid := pg.proc.Pid()
	if err := pg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Close (kill 0: %v)", pgid, err)
	}
	if _, err := os.Stat(pg.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s left behind (%v)", pg.Dir, err)
	}
}
