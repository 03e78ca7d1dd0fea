package charts

import (
	"os"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// helperBinary is the store-ID helper, built where Squid's user can run it:
// the rendered config runs it as the pod does.
var helperBinary string

func TestMain(m *testing.M) {
	os.Exit(squidtest.RunWithHelper(m, "../cmd/squid-store-id-helper", &helperBinary))
}
