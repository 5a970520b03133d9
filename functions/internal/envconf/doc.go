// Package envconf reads typed settings from the environment for the functions' Load.
// Each error names the variable it comes from.
package envconf
