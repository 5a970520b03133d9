// Package prices holds the ports.PriceBook adapters (docs/api.md §13): File, a fixed
// list of USD per hour by instance type (BLASTLOG_PRICES=<file>), and Azure, the
// public Azure Retail Prices API read per region and instance type and kept for 24 h
// (BLASTLOG_PRICES=azure).
package prices
