package storage_test

import (
	"testing"

	"github.com/wirewatch/wirewatch/storage"
)

// Each migration has a number of its own: two files with one number would
// apply only one of them on databases that have the other.
func TestMigrationNumbersAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[int]string{}
	for _, m := range storage.Migrations() {
		if other, dup := seen[m.Version]; dup {
			t.Errorf("migrations %03d_%s and %03d_%s share a number", m.Version, other, m.Version, m.Name)
		}
		seen[m.Version] = m.Name
	}
}
