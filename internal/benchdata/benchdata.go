// Package benchdata writes the resources the benchmarks measure with
// straight into a store: resource groups of Machine Learning workspaces
// and their computes, in the shapes the resource manager stores them.
// Only tests and benchmarks import it.
package benchdata

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

// Options vary what Seed writes. Zero fields take the defaults.
type Options struct {
	// PublicNetworkAccess is the workspaces' (default "Enabled").
	PublicNetworkAccess string
	// Edit, when set, returns the body to write of the i-th resource
	// written (from 0, in writing order).
	Edit func(i int, body string) string
}

// Seed writes n resources into st in rgs resource groups of the
// subscription subID (bench-rg000, …): in each group, workspaces of 9
// computes (one resource in ten a workspace; computes alternately
// ComputeInstance and AmlCompute, one in three with local authentication
// disabled), 1,000 a transaction. It returns how many it wrote, the
// groups included.
func Seed(ctx context.Context, st store.Store, subID string, n, rgs int, o Options) (int, error) {
	now := time.Now().UTC()
	sub := "/subscriptions/" + subID
	var batch []*store.Resource
	written := 0
	flush := func() error {
		err := st.Write(ctx, func(tx store.Tx) error {
			for _, r := range batch {
				if err := tx.PutResource(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		written += len(batch)
		batch = batch[:0]
		return err
	}
	add := func(id, body string) error {
		i := written + len(batch)
		if o.Edit != nil {
			body = o.Edit(i, body)
		}
		pid, err := arm.ParseID(id)
		if err != nil {
			return err
		}
		parent := ""
		if p := pid.Parent(); p != nil {
			parent = p.Key()
		}
		batch = append(batch, &store.Resource{Key: pid.Key(), ID: id, ParentKey: parent, TypeKey: arm.KeyOf(pid.Type()),
			SubscriptionKey: arm.KeyOf(subID), ResourceGroupKey: arm.KeyOf(pid.ResourceGroup), Body: []byte(body),
			ETag: `"` + strconv.Itoa(i) + `"`, CreatedAt: now, UpdatedAt: now})
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	}
	pna := cmp.Or(o.PublicNetworkAccess, "Enabled")
	per := n / rgs
	for g := 0; g < rgs; g++ {
		name := fmt.Sprintf("bench-rg%03d", g)
		rg := sub + "/resourceGroups/" + name
		if err := add(rg, `{"id":"`+rg+`","name":"`+name+`","type":"Microsoft.Resources/resourceGroups","location":"eastus","tags":{},"properties":{"provisioningState":"Succeeded"}}`); err != nil {
			return written, err
		}
		for i := 0; i < per; i++ {
			ws := fmt.Sprintf("ws%04d", i/10)
			w := rg + "/providers/Microsoft.MachineLearningServices/workspaces/" + ws
			var err error
			if i%10 == 0 {
				err = add(w, `{"id":"`+w+`","name":"`+ws+`","type":"Microsoft.MachineLearningServices/workspaces","location":"eastus","tags":{"team":"ml"},`+
					`"identity":{"type":"SystemAssigned","principalId":"p","tenantId":"t"},"sku":{"name":"Basic","tier":"Basic"},`+
					`"properties":{"friendlyName":"w","publicNetworkAccess":"`+pna+`","v1LegacyMode":false,"encryption":{"status":"Disabled"},"managedNetwork":{"isolationMode":"Disabled"},"provisioningState":"Succeeded"}}`)
			} else {
				c := fmt.Sprintf("%s/computes/c%d", w, i%10)
				kind := "AmlCompute"
				if i%2 == 0 {
					kind = "ComputeInstance"
				}
				err = add(c, `{"id":"`+c+`","name":"c`+strconv.Itoa(i%10)+`","type":"Microsoft.MachineLearningServices/workspaces/computes","location":"eastus","tags":{},`+
					`"properties":{"computeType":"`+kind+`","disableLocalAuth":`+strconv.FormatBool(i%3 == 0)+`,"properties":{"vmSize":"STANDARD_DS3_V2","enableNodePublicIp":true,"scaleSettings":{"maxNodeCount":4,"minNodeCount":0}},"provisioningState":"Succeeded"}}`)
			}
			if err != nil {
				return written, err
			}
		}
	}
	if len(batch) > 0 {
		return written, flush()
	}
	return written, nil
}
