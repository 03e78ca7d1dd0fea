package accesslog

import "bytes"

// Artifact Registry puts a download's whole credential in the URL path
// (.../artifacts-downloads/.../downloads/<token>), which Squid logs as it
// logs every path; strip_query_terms strips queries only.
var (
	downloadsPath = []byte("/artifacts-downloads/")
	downloadsSeg  = []byte("/downloads/")
	maskedToken   = []byte("REDACTED")
)

// maskDownloadTokens replaces, in place, every download token in line by
// REDACTED, and returns the line. A line without one is returned as is.
func maskDownloadTokens(line []byte) []byte {
	for from := 0; ; {
		i := bytes.Index(line[from:], downloadsPath)
		if i < 0 {
			return line
		}
		start := from + i + len(downloadsPath)
		j := bytes.Index(line[start:], downloadsSeg)
		if j < 0 {
			return line
		}
		tok := start + j + len(downloadsSeg)
		end := tok
		for end < len(line) && line[end] != ' ' && line[end] != '?' && line[end] != '"' {
			end++
		}
		rest := append([]byte(nil), line[end:]...) // line[end:] is overwritten next
		line = append(append(line[:tok], maskedToken...), rest...)
		from = tok + len(maskedToken)
	}
}
