package odata_test

import (
	"errors"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/odata"
)

// show renders rows compactly: fields in the order given, "name=value".
func show(rows []map[string]any, cols ...string) string {
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString("; ")
		}
		for j, c := range cols {
			if j > 0 {
				b.WriteByte(' ')
			}
			v, ok := r[c]
			if !ok {
				fmt.Fprintf(&b, "%s=-", c)
				continue
			}
			if s, ok := v.(string); ok && strings.HasPrefix(s, sub) {
				v = "…" + s[strings.LastIndexByte(s, '/'):]
			}
			fmt.Fprintf(&b, "%s=%v", c, v)
		}
	}
	return b.String()
}

func TestApply(t *testing.T) {
	for _, c := range []struct {
		apply, orderby string
		cols           []string
		want           string
	}{
		{"aggregate($count as NumStates)", "", []string{"NumStates"}, "NumStates=6"},
		{"filter(ComplianceState eq 'Nothing')/aggregate($count as NumStates)", "", []string{"NumStates"}, "NumStates=0"},
		{"filter(ComplianceState eq 'Nothing')/groupby((ResourceId))", "", []string{"resourceId"}, ""},
		{"groupby((ResourceGroup))", "", []string{"resourceGroup"}, "resourceGroup=rg1; resourceGroup=rg2; resourceGroup=<nil>; resourceGroup=rg3"},
		{"groupby((PolicyAssignmentId, PolicyDefinitionReferenceId), aggregate($count as NumNonCompliantResources))", "NumNonCompliantResources desc, policyDefinitionReferenceId",
			[]string{"policyAssignmentId", "policyDefinitionReferenceId", "NumNonCompliantResources"},
			"policyAssignmentId=…/pa1 policyDefinitionReferenceId=ref1 NumNonCompliantResources=2; policyAssignmentId=…/pa1 policyDefinitionReferenceId=<nil> NumNonCompliantResources=1; policyAssignmentId=…/pa2 policyDefinitionReferenceId= NumNonCompliantResources=1; policyAssignmentId=…/pa2 policyDefinitionReferenceId=ref1 NumNonCompliantResources=1; policyAssignmentId=…/pa1 policyDefinitionReferenceId=ref2 NumNonCompliantResources=1"},
		{"filter(ComplianceState eq 'NonCompliant')/groupby((PolicyDefinitionReferenceId, ComplianceState), aggregate($count as Count))", "",
			[]string{"policyDefinitionReferenceId", "complianceState", "Count"},
			"policyDefinitionReferenceId=ref1 complianceState=NonCompliant Count=3"},
		{"groupby((PolicyAssignmentId, ResourceGroup))/groupby((PolicyAssignmentId), aggregate($count as NumGroups))", "policyAssignmentId desc",
			[]string{"policyAssignmentId", "NumGroups"}, "policyAssignmentId=…/pa2 NumGroups=2; policyAssignmentId=…/pa1 NumGroups=2"},
		{"groupby((ComplianceState), aggregate($count as N))/filter(N gt 1)", "", []string{"complianceState", "N"}, "complianceState=NonCompliant N=3"},
		{"filter(IsCompliant eq false)/filter(ResourceGroup ne 'rg1')", "", []string{"name"}, "name=c; name=f"},
		{"groupby((IsCompliant, Timestamp))/aggregate($count as Distinct)", "", []string{"Distinct"}, "Distinct=6"},
		{"groupby((Score), aggregate($count as N))", "Score desc", []string{"score", "N"}, "score=100 N=1; score=2 N=1; score=1.5 N=1; score=0 N=1; score=-3 N=1; score=<nil> N=1"},
	} {
		fields := odata.NewFields(append(stateFields.List(), odata.Field{Name: "name", Type: odata.String})...)
		a, err := odata.ParseApply(c.apply, fields)
		if err != nil {
			t.Errorf("ParseApply(%q): %v", c.apply, err)
			continue
		}
		rows, err := a.Run(odata.Records(fixture))
		if err != nil {
			t.Errorf("Run(%q): %v", c.apply, err)
			continue
		}
		ob, err := odata.ParseOrderBy(c.orderby, a.Fields())
		if err != nil {
			t.Errorf("ParseOrderBy(%q): %v", c.orderby, err)
			continue
		}
		ob.Sort(rows)
		if got := show(rows, c.cols...); got != c.want {
			t.Errorf("%q ordered by %q:\n got %s\nwant %s", c.apply, c.orderby, got, c.want)
		}
	}
}

func TestApplyFields(t *testing.T) {
	a, err := odata.ParseApply("groupby((policyassignmentid, RESOURCEID, resourceId), aggregate($count as Num))", stateFields)
	if err != nil {
		t.Fatal(err)
	}
	want := []odata.Field{{Name: "policyAssignmentId", Type: odata.String}, {Name: "resourceId", Type: odata.String}, {Name: "Num", Type: odata.Number}}
	if got := a.Fields().List(); !reflect.DeepEqual(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
	if got := a.Steps[0]; got.Kind != "groupby" || got.CountAs != "Num" || !reflect.DeepEqual(got.GroupBy, []string{"policyAssignmentId", "resourceId"}) {
		t.Errorf("step = %+v", got)
	}
	if a, err := odata.ParseApply(" ", stateFields); a != nil || err != nil {
		t.Errorf("empty $apply = %v, %v", a, err)
	}
}

func TestApplyErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"groupby(ResourceId)", "$apply: at 8: expected '(' around the grouping fields: groupby((f1, f2)), found 'ResourceId'"},
		{"groupby((ResourceId)", "$apply: at 20: expected ')' to close groupby, found end of input"},
		{"groupby((Resource))", "$apply: at 9: unknown property 'Resource'. Properties: resourceId, resourceType, resourceGroup, policyAssignmentId, policyDefinitionReferenceId, policyDefinitionAction, complianceState, isCompliant, timestamp, score"},
		{"groupby((ResourceId))/groupby((ComplianceState))", "$apply: at 31: unknown property 'ComplianceState'. Properties: resourceId"},
		{"groupby((ResourceId), aggregate($count as N))/filter(ComplianceState eq 'x')", "$apply: at 53: unknown property 'ComplianceState'. Properties: resourceId, N"},
		{"aggregate($count as N)/filter(N eq 'x')", "$apply: at 35: 'N' is a number but ''x'' is a string"},
		{"groupby((ResourceId), aggregate(Score with sum as Total))", "$apply: at 32: only '$count as <alias>' is supported in aggregate, found 'Score'"},
		{"groupby((ResourceId), aggregate($count))", "$apply: at 38: expected 'as <alias>' after $count, found ')'"},
		{"groupby((ResourceId), aggregate($count as ResourceID))", "$apply: at 42: the alias 'ResourceID' is also a grouping property"},
		{"groupby((ResourceId), aggregate($count as $x))", "$apply: at 42: expected an alias name after 'as', found '$x'"},
		{"groupby((ResourceId), filter(IsCompliant))", "$apply: at 22: expected aggregate(...) after the grouping fields, found 'filter'"},
		{"filter(IsCompliant eq)", "$apply: at 21: expected a property, a value or '(', found ')'"},
		{"filter(IsCompliant) filter(IsCompliant)", "$apply: at 20: expected '/' between transformations or the end, found 'filter'"},
		{"filter(IsCompliant)/", "$apply: at 20: expected a transformation (filter, groupby, aggregate), found end of input"},
		{"compute(Score mul 2 as X)", "$apply: at 0: unsupported transformation 'compute'. Transformations: filter, groupby, aggregate"},
		{"topcount", "$apply: at 8: expected '(' after topcount, found end of input"},
		{"filter(ResourceId eq 'x", "$apply: at 21: unterminated string literal (a quote inside a string is written '')"},
	} {
		_, err := odata.ParseApply(c.in, stateFields)
		var oe *odata.Error
		if !errors.As(err, &oe) || oe.Error() != c.want {
			t.Errorf("ParseApply(%q):\n got %v\nwant %s", c.in, err, c.want)
		}
	}
}

func TestApplyRunErrors(t *testing.T) {
	a, err := odata.ParseApply("filter(Score gt 1)/aggregate($count as N)", stateFields)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(odata.Records([]odata.Record{badRecord{}})); err == nil || !strings.Contains(err.Error(), "field score is a number") {
		t.Errorf("Run over a bad record: %v", err)
	}
	boom := errors.New("boom")
	var src iter.Seq2[odata.Record, error] = func(yield func(odata.Record, error) bool) {
		if yield(fixture[0], nil) {
			yield(nil, boom)
		}
	}
	if _, err := a.Run(src); !errors.Is(err, boom) {
		t.Errorf("Run over a failing source: %v", err)
	}
	g, err := odata.ParseApply("groupby((Score))", stateFields)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Run(odata.Records([]odata.Record{badRecord{}})); err == nil {
		t.Error("groupby over a bad record: no error")
	}
}

func TestOrderBy(t *testing.T) {
	rows := make([]map[string]any, len(fixture))
	for i, r := range fixture {
		rows[i] = r
	}
	for _, c := range []struct{ orderby, want string }{
		{"Score", "dceabf"},
		{"Score asc", "dceabf"},
		{"score DESC", "fbaecd"},
		{"ResourceGroup, Score desc", "dbacfe"}, // rg1 and RG1 tie, then by score
		{"IsCompliant, Name", "dacfbe"},
		{"Timestamp desc", "ecbadf"},
		{"ComplianceState desc, ResourceType asc, Name desc", "eafcdb"},
		{"", "abcdef"},
	} {
		fields := odata.NewFields(append(stateFields.List(), odata.Field{Name: "name", Type: odata.String})...)
		ob, err := odata.ParseOrderBy(c.orderby, fields)
		if err != nil {
			t.Errorf("ParseOrderBy(%q): %v", c.orderby, err)
			continue
		}
		rs := append([]map[string]any(nil), rows...)
		ob.Sort(rs)
		var got strings.Builder
		for _, r := range rs {
			got.WriteString(r["name"].(string))
		}
		if got.String() != c.want {
			t.Errorf("$orderby=%s: %s, want %s", c.orderby, got.String(), c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"Score up", "$orderby: at 6: expected asc, desc, ',' or the end after 'score', found 'up'"},
		{"Score,", "$orderby: at 6: expected a property, found end of input"},
		{"Scores desc", "$orderby: at 0: unknown property 'Scores'. Properties: resourceId, resourceType, resourceGroup, policyAssignmentId, policyDefinitionReferenceId, policyDefinitionAction, complianceState, isCompliant, timestamp, score"},
		{"Score desc desc", "$orderby: at 11: expected asc, desc, ',' or the end after 'score', found 'desc'"},
		{"'Score'", "$orderby: at 0: expected a property, found 'Score'"},
	} {
		_, err := odata.ParseOrderBy(c.in, stateFields)
		var oe *odata.Error
		if !errors.As(err, &oe) || oe.Error() != c.want {
			t.Errorf("ParseOrderBy(%q):\n got %v\nwant %s", c.in, err, c.want)
		}
	}
}

func TestSelect(t *testing.T) {
	got, err := odata.ParseSelect("ResourceId, PolicyAssignmentId,ComplianceState, resourceid", stateFields)
	if want := []string{"resourceId", "policyAssignmentId", "complianceState"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSelect = %v, %v; want %v", got, err, want)
	}
	if got, err := odata.ParseSelect("", stateFields); got != nil || err != nil {
		t.Errorf("empty $select = %v, %v", got, err)
	}
	for _, c := range []struct{ in, want string }{
		{"ResourceId desc", "$select: at 11: expected ',' or the end after 'resourceId', found 'desc'"},
		{"ResourceId,,Score", "$select: at 11: expected a property, found ','"},
		{"ResourceId, Foo", "$select: at 12: unknown property 'Foo'. Properties: resourceId, resourceType, resourceGroup, policyAssignmentId, policyDefinitionReferenceId, policyDefinitionAction, complianceState, isCompliant, timestamp, score"},
		{"ResourceId/Name", "$select: at 10: expected ',' or the end after 'resourceId', found '/'"},
	} {
		_, err := odata.ParseSelect(c.in, stateFields)
		var oe *odata.Error
		if !errors.As(err, &oe) || oe.Error() != c.want {
			t.Errorf("ParseSelect(%q):\n got %v\nwant %s", c.in, err, c.want)
		}
	}
}
