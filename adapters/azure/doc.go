// Package azure holds blastlog's Azure credentials: one shared azidentity credential
// (workload identity, managed identity or developer credentials), and the Entra ID
// authentication of Redis connections (Azure Cache for Redis / Azure Managed Redis).
package azure
