package azure

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Credential returns the one credential a process shares: "default" is azidentity's
// chain (environment, workload identity, managed identity, Azure CLI, ...);
// "workload", "managed" and "cli" pick one explicitly. azidentity credentials are
// goroutine-safe and cache their tokens.
func Credential(kind string) (azcore.TokenCredential, error) {
	switch kind {
	case "", "default":
		return azidentity.NewDefaultAzureCredential(nil)
	case "workload":
		return azidentity.NewWorkloadIdentityCredential(nil)
	case "managed":
		return azidentity.NewManagedIdentityCredential(nil)
	case "cli":
		return azidentity.NewAzureCLICredential(nil)
	}
	return nil, fmt.Errorf("azure credential %q: want default, workload, managed or cli", kind)
}
