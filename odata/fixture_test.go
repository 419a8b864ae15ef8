package odata_test

import (
	"time"

	"github.com/mlgov/mlgov/odata"
)

// stateFields are PolicyState-like properties.
var stateFields = odata.NewFields(
	odata.Field{Name: "resourceId", Type: odata.String},
	odata.Field{Name: "resourceType", Type: odata.String},
	odata.Field{Name: "resourceGroup", Type: odata.String},
	odata.Field{Name: "policyAssignmentId", Type: odata.String},
	odata.Field{Name: "policyDefinitionReferenceId", Type: odata.String},
	odata.Field{Name: "policyDefinitionAction", Type: odata.String},
	odata.Field{Name: "complianceState", Type: odata.String},
	odata.Field{Name: "isCompliant", Type: odata.Bool},
	odata.Field{Name: "timestamp", Type: odata.Time},
	odata.Field{Name: "score", Type: odata.Number},
)

const (
	sub = "/subscriptions/00000000-0000-0000-0000-000000000001"
	pa1 = sub + "/providers/Microsoft.Authorization/policyAssignments/pa1"
	pa2 = sub + "/providers/microsoft.authorization/policyassignments/pa2"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixture holds records keyed by a short name in "name". Values are
// chosen so that case, nulls, LIKE metacharacters and time bounds matter.
var fixture = []odata.Row{
	{"name": "a", "resourceId": sub + "/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1", "resourceType": "Microsoft.Compute/virtualMachines", "resourceGroup": "rg1",
		"policyAssignmentId": pa1, "policyDefinitionReferenceId": "ref1", "policyDefinitionAction": "deny", "complianceState": "NonCompliant", "isCompliant": false,
		"timestamp": ts("2024-05-01T10:00:00Z"), "score": 1.5},
	{"name": "b", "resourceId": sub + "/resourceGroups/RG1/providers/Microsoft.Storage/storageAccounts/sa_1", "resourceType": "Microsoft.Storage/storageAccounts", "resourceGroup": "RG1",
		"policyAssignmentId": pa1, "policyDefinitionReferenceId": "ref2", "policyDefinitionAction": "audit", "complianceState": "Compliant", "isCompliant": true,
		"timestamp": ts("2024-05-01T11:00:00Z"), "score": 2.0},
	{"name": "c", "resourceId": sub + "/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts/sa%2", "resourceType": "microsoft.storage/storageaccounts", "resourceGroup": "rg2",
		"policyAssignmentId": pa2, "policyDefinitionReferenceId": "ref1", "policyDefinitionAction": "Deny", "complianceState": "noncompliant", "isCompliant": false,
		"timestamp": ts("2024-05-02T00:00:00.5Z"), "score": -3.0},
	{"name": "d", "resourceId": sub, "resourceType": "Microsoft.Resources/subscriptions",
		"policyAssignmentId": pa2, "policyDefinitionReferenceId": "", "policyDefinitionAction": "auditifnotexists", "complianceState": "Exempt",
		"timestamp": ts("2024-04-30T23:59:59Z")},
	{"name": "e", "resourceId": sub + "/resourceGroups/rg3/providers/Microsoft.KeyVault/vaults/it's", "resourceType": "Microsoft.KeyVault/vaults", "resourceGroup": "rg3",
		"policyAssignmentId": pa1, "policyDefinitionAction": "modify", "complianceState": "Unknown", "isCompliant": true,
		"timestamp": ts("2024-05-03T00:00:00Z"), "score": 0.0},
	{"name": "f", "resourceId": sub + "/resourceGroups/rg3/providers/Microsoft.KeyVault/vaults/v\\x", "resourceType": "Microsoft.KeyVault/vaults", "resourceGroup": "rg3",
		"policyAssignmentId": pa1, "policyDefinitionReferenceId": "REF1", "policyDefinitionAction": "deny", "complianceState": "NonCompliant", "isCompliant": false,
		"score": 100.0},
}
