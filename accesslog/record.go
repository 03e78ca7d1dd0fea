package accesslog

import "time"

// Record is an Entry that owns its data.
type Record struct {
	Time      time.Time // when Squid logged it (the transaction's end)
	Elapsed   time.Duration
	Client    string
	Result    string
	Status    int
	Bytes     int64
	Method    string
	URL       string
	Hierarchy string
	Peer      string
	Marker    string // the probe marker, "" when none
}

// Record copies e.
func (e *Entry) Record() Record {
	return Record{
		Time:      time.UnixMilli(e.Time),
		Elapsed:   time.Duration(e.Elapsed) * time.Millisecond,
		Client:    string(e.Client),
		Result:    string(e.Result),
		Status:    e.Status,
		Bytes:     e.Bytes,
		Method:    string(e.Method),
		URL:       string(e.URL),
		Hierarchy: string(e.Hierarchy),
		Peer:      string(e.Peer),
		Marker:    string(e.Marker),
	}
}
