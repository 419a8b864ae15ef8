package armtest

import "testing"

// TestMLAssets: asset containers and their versions (immutable but for
// description, tags, properties, stage and isArchived), schedules, and a
// workspace's private link resources and features.
func TestMLAssets(t *testing.T) {
	eachBackend(t, nil, testMLAssets)
}

func testMLAssets(t *testing.T, s *Server) {
	ws := s.mustWorkspace(t, "rg", "ws1")
	wantError(t, "a version without its container", s.Do(t, "PUT", ws+"/models/m1/versions/1"+av, `{"properties":{"modelUri":"azureml://x"}}`), 404, "ParentResourceNotFound", "")
	s.put(t, ws+"/models/m1"+av, `{"properties":{"description":"fraud model"}}`, 201)
	v1 := ws + "/models/m1/versions/1"
	s.put(t, v1+av, `{"properties":{"modelUri":"azureml://datastores/ds/paths/m1","modelType":"mlflow_model"}}`, 201)
	s.put(t, v1+av, `{"properties":{"modelUri":"azureml://datastores/ds/paths/m1","modelType":"mlflow_model","description":"first","tags":{"stage":"dev"}}}`, 200)
	wantError(t, "a changed model uri", s.Do(t, "PUT", v1+av, `{"properties":{"modelUri":"azureml://datastores/ds/paths/other","modelType":"mlflow_model"}}`), 409, "Conflict", "", "modelUri", "immutable")
	if got := s.Do(t, "GET", v1+av, nil).JSON()["properties"].(map[string]any); got["description"] != "first" || got["modelUri"] != "azureml://datastores/ds/paths/m1" {
		t.Errorf("version after the refused change: %v", got)
	}
	if r := s.Do(t, "GET", ws+"/models/m1/versions"+av, nil); r.Status != 200 || len(r.JSON()["value"].([]any)) != 1 {
		t.Errorf("versions: %d %s", r.Status, r.Body)
	}

	s.put(t, ws+"/data/d1"+av, `{"properties":{"dataType":"uri_folder"}}`, 201)
	wantError(t, "a data version without its uri", s.Do(t, "PUT", ws+"/data/d1/versions/1"+av, `{"properties":{"dataType":"uri_folder"}}`), 400, "InvalidRequestContent", "", "dataUri")
	s.put(t, ws+"/data/d1/versions/1"+av, `{"properties":{"dataType":"uri_folder","dataUri":"azureml://datastores/ds/paths/d1/"}}`, 201)
	s.put(t, ws+"/environments/e1"+av, `{"properties":{}}`, 201)
	wantError(t, "an environment without image or build", s.Do(t, "PUT", ws+"/environments/e1/versions/1"+av, `{"properties":{}}`), 400, "InvalidRequestContent", "", "image")
	env := s.put(t, ws+"/environments/e1/versions/1"+av, `{"properties":{"image":"mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"}}`, 201)
	if et := env.JSON()["properties"].(map[string]any)["environmentType"]; et != "UserCreated" {
		t.Errorf("environmentType %v", et)
	}
	s.put(t, ws+"/codes/c1"+av, `{"properties":{}}`, 201)
	s.put(t, ws+"/codes/c1/versions/1"+av, `{"properties":{"codeUri":"https://sa.blob.core.windows.net/c/src"}}`, 201)
	s.put(t, ws+"/components/p1"+av, `{"properties":{}}`, 201)
	s.put(t, ws+"/components/p1/versions/1"+av, `{"properties":{"componentSpec":{"name":"p1","type":"command"}}}`, 201)
	wantError(t, "a bad asset name", s.Do(t, "PUT", ws+"/codes/-bad"+av, `{"properties":{}}`), 400, "InvalidResourceName", "")

	sch := ws + "/schedules/nightly"
	r := s.put(t, sch+av, `{"properties":{"action":{"actionType":"CreateJob","jobDefinition":{"jobType":"Command"}},"trigger":{"triggerType":"Cron","expression":"0 2 * * *"}}}`, 201)
	if st := s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation")); st != "Succeeded" {
		t.Errorf("schedule: %s", st)
	}
	wantError(t, "a schedule without trigger", s.Do(t, "PUT", ws+"/schedules/bad"+av, `{"properties":{"action":{"actionType":"CreateJob"}}}`), 400, "InvalidRequestContent", "", "trigger")

	pl := s.Do(t, "GET", ws+"/privateLinkResources"+av, nil)
	if vals, _ := pl.JSON()["value"].([]any); pl.Status != 200 || len(vals) != 1 || vals[0].(map[string]any)["properties"].(map[string]any)["groupId"] != "amlworkspace" {
		t.Errorf("privateLinkResources: %d %s", pl.Status, pl.Body)
	}
	if f := s.Do(t, "GET", ws+"/features"+av, nil); f.Status != 200 || f.JSON()["value"] == nil {
		t.Errorf("features: %d %s", f.Status, f.Body)
	}
	// Deleting the container deletes its versions.
	if r := s.Do(t, "DELETE", ws+"/models/m1"+av, nil); r.Status != 200 {
		t.Fatalf("delete container: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, "GET", v1+av, nil); r.Status != 404 {
		t.Errorf("version after its container's deletion: %d", r.Status)
	}
}

// TestClusterWithoutScaleSettings: a cluster created without scaleSettings
// can be written again (the defaults once made a scaleSettings without
// its required maxNodeCount, which refused every later write).
func TestClusterWithoutScaleSettings(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg", "ws1")
		cl := ws + "/computes/cl1"
		r := s.put(t, cl+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2"}}}`, 201)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		if r := s.Do(t, "PATCH", cl+av, `{"tags":{"team":"a"}}`); r.Status >= 300 {
			t.Errorf("PATCH tags of a cluster created without scaleSettings: %d %s", r.Status, r.Body)
		}
	})
}

// TestListOfUnservedType: a list of a type mlgov does not serve is refused
// as a write of it is, not answered with an empty list.
func TestListOfUnservedType(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg", "ws1")
		wantError(t, "a list of an unknown ML type", s.Do(t, "GET", ws+"/notebooks"+av, nil), 400, "InvalidResourceType", "", "notebooks")
		wantError(t, "a list of an unserved namespace", s.Do(t, "GET", s.RG("rg")+"/providers/Contoso.Widgets/gadgets"+av, nil), 400, "NoRegisteredProviderFound", "", "Contoso.Widgets")
		if r := s.Do(t, "GET", ws+"/computes"+av, nil); r.Status != 200 {
			t.Errorf("a served list: %d %s", r.Status, r.Body)
		}
	})
}
