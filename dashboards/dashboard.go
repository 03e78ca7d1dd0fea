package dashboards

import (
	_ "embed"
	"encoding/json"
	"os"
)

// Dashboard is the part of a Grafana dashboard the tests look at.
type Dashboard struct {
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Panel is one dashboard panel.
type Panel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Datasource  *Datasource     `json:"datasource"`
	FieldConfig json.RawMessage `json:"fieldConfig"`
	Targets     []struct {
		Expr       string      `json:"expr"`
		Datasource *Datasource `json:"datasource"`
	} `json:"targets"`
}

// Datasource names a data source.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Load reads a dashboard file.
func Load(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d Dashboard
	return &d, json.Unmarshal(b, &d)
}

// Exprs lists every PromQL expression of the panels.
func (d *Dashboard) Exprs() []string {
	var out []string
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, t.Expr)
		}
	}
	return out
}

// JSON is the dashboard as Grafana imports it; the exporter serves it at
// /dashboard.json so its status page can link to it.
//
//go:embed squid-cache-exporter.json
var JSON []byte
