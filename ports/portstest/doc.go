// Package portstest holds in-memory fakes of the ports and the conformance suites that
// every implementation, fake or real, must pass. Adapters call the suites from their
// own tests with a constructor for a fresh instance.
package portstest
