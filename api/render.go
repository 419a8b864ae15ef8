package api

import (
	"cmp"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

// The HTTP shape of the manager's answers: statuses, headers, the URLs a
// client polls and a list's nextLink, all under the public URL.

var outcomeStatus = [...]int{resources.OK: 200, resources.Created: 201, resources.Accepted: 202, resources.NoContent: 204}

var (
	listOpen  = []byte(`{"value":[`)
	listComma = []byte{','}
)

// render writes resp, the answer to r.
func (s *Server) render(w http.ResponseWriter, r *resources.Request, resp *resources.Response) {
	h := w.Header()
	if resp.ETag != "" {
		h.Set("ETag", `"`+resp.ETag+`"`)
	}
	if op := resp.Operation; op != nil {
		base := s.PublicURL + "/subscriptions/" + op.SubscriptionID + "/providers/" + op.Namespace + "/locations/" + op.Location
		q := "?api-version=" + url.QueryEscape(r.APIVersion)
		h.Set("Azure-AsyncOperation", base+"/operationStatuses/"+op.ID+q)
		if resp.Outcome == resources.Accepted {
			h.Set("Location", base+"/operationResults/"+op.ID+q)
		}
	} else if resp.LocationPath != "" {
		h.Set("Location", s.PublicURL+resp.LocationPath+"?api-version="+url.QueryEscape(r.APIVersion))
	} else if resp.Outcome == resources.Accepted {
		// An operation result still running: poll the same URL.
		h.Set("Location", s.PublicURL+r.Path+"?"+r.Query.Encode())
	}
	status := outcomeStatus[resp.Outcome]
	if !resp.List {
		if resp.Body != nil {
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
		}
		w.WriteHeader(status)
		if resp.Body != nil {
			w.Write(resp.Body)
		}
		return
	}
	// A page: {"value":[item,...],"nextLink":...}, each item's bytes
	// written as they are (no copy of a large page).
	tail := []byte("]}")
	if resp.Next != "" {
		param := cmp.Or(resp.NextParam, "$skipToken")
		q := url.Values{}
		for k, v := range r.Query {
			if !strings.EqualFold(k, param) {
				q[k] = v
			}
		}
		q.Set(param, resp.Next)
		name := "nextLink"
		if resp.OData {
			name = "@odata.nextLink"
		}
		tail = []byte(`],"` + name + `":` + value.StringValue(s.PublicURL+r.Path+"?"+q.Encode()).JSON() + "}")
	}
	n := len(listOpen) + len(tail)
	for i, it := range resp.Items {
		if i > 0 {
			n++
		}
		n += len(it)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(status)
	w.Write(listOpen)
	for i, it := range resp.Items {
		if i > 0 {
			w.Write(listComma)
		}
		if _, err := w.Write(it); err != nil {
			return
		}
	}
	w.Write(tail)
}
