package history

// What a scan and a chunk load take of the budget, for the tests of history_test.
const (
	ScanBytes = scanBytes
	LoadBytes = loadBytes
)
