package dashboards

import (
	"encoding/json"
	"testing"
)

const file = "squid-cache-exporter.json"

func TestDashboardLint(t *testing.T) {
	d, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Templating.List) == 0 || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Query != "prometheus" {
		t.Error("the first variable must pick a Prometheus data source")
	}
	ids := map[int]string{}
	for _, p := range d.Panels {
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if p.Description == "" {
			t.Errorf("panel %q has no description", p.Title)
		}
		if !fromVariable(p.Datasource) {
			t.Errorf("panel %q: data source %+v, want the ${datasource} variable (no hard-coded uid)", p.Title, p.Datasource)
		}
		for _, target := range p.Targets {
			if !fromVariable(target.Datasource) || target.Expr == "" {
				t.Errorf("panel %q: a target has data source %+v and expr %q", p.Title, target.Datasource, target.Expr)
			}
		}
		var fc struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		}
		if err := json.Unmarshal(p.FieldConfig, &fc); err != nil || fc.Defaults.Unit == "" {
			t.Errorf("panel %q has no unit", p.Title)
		}
	}
}

func fromVariable(ds *Datasource) bool {
	return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}
