package odata_test

import (
	"fmt"

	"github.com/mlgov/mlgov/odata"
)

func Example() {
	fields := odata.NewFields(
		odata.Field{Name: "resourceId", Type: odata.String},
		odata.Field{Name: "policyAssignmentId", Type: odata.String},
		odata.Field{Name: "complianceState", Type: odata.String},
	)
	states := []odata.Row{
		{"resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1", "policyAssignmentId": "pa1", "complianceState": "NonCompliant"},
		{"resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm2", "policyAssignmentId": "pa1", "complianceState": "NonCompliant"},
		{"resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm2", "policyAssignmentId": "pa2", "complianceState": "Compliant"},
	}

	filter, err := odata.ParseFilter("complianceState eq 'noncompliant'", fields)
	if err != nil {
		panic(err)
	}
	where, args, ok := odata.ToSQL(filter, map[string]string{"complianceState": "compliance_state"})
	fmt.Println(where, args, ok)

	apply, err := odata.ParseApply("filter(ComplianceState eq 'NonCompliant')/groupby((PolicyAssignmentId), aggregate($count as NumNonCompliantResources))", fields)
	if err != nil {
		panic(err)
	}
	rows, err := apply.Run(odata.Records(states))
	if err != nil {
		panic(err)
	}
	orderby, err := odata.ParseOrderBy("NumNonCompliantResources desc", apply.Fields())
	if err != nil {
		panic(err)
	}
	orderby.Sort(rows)
	fmt.Println(rows)

	_, err = odata.ParseFilter("Complianc eq 'x'", fields)
	fmt.Println(err)
	// Output:
	// (compliance_state IS NOT NULL AND lower(compliance_state) = ?) [noncompliant] true
	// [map[NumNonCompliantResources:2 policyAssignmentId:pa1]]
	// $filter: at 0: unknown property 'Complianc'. Properties: resourceId, policyAssignmentId, complianceState
}
