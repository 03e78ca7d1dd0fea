// Package storeid is a Squid store_id_program helper for content-addressed
// CDN blobs: it files every signed URL of a blob under one cache key, but
// only for requests the CDN itself authorizes.
package storeid

import (
	"errors"
	"net/url"
	"strings"
)

// Request is one line Squid sends: "[channel-ID] URL [extras]". Squid adds
// the channel ID when the helper runs with concurrency > 0; replies then
// carry it and may come in any order.
type Request struct {
	Channel string
	URL     string
	// Authorization is the client's header, from the extras field
	// "authorization=<URL-encoded value>" (ExtrasFormat); empty when the
	// request had none. It is a credential: used for one check, never
	// kept, never logged.
	Authorization string
}

// ExtrasFormat is the store_id_extras value that hands the helper the
// client's Authorization, URL-encoded so that it stays one field. Squid
// consults the helper before the ICAP service removes Authorization from
// a CDN request, so CDN requests carry it too; the helper ignores it there.
const ExtrasFormat = `authorization=%#{Authorization}>h`

// ParseLine reads a request line, without its newline.
func ParseLine(line string) (Request, error) {
	fields := strings.Fields(line)
	var r Request
	if len(fields) > 0 && isChannel(fields[0]) {
		r.Channel, fields = fields[0], fields[1:]
	}
	if len(fields) == 0 {
		return r, errors.New("no URL")
	}
	r.URL = fields[0]
	if !strings.Contains(r.URL, "://") {
		return r, errors.New("not a URL")
	}
	for _, f := range fields[1:] { // other extras (Squid's defaults) are not needed
		v, ok := strings.CutPrefix(f, "authorization=")
		if !ok || v == "-" || v == "" {
			continue
		}
		auth, err := url.PathUnescape(v)
		if err != nil {
			return r, errors.New("authorization extra is not URL-encoded")
		}
		r.Authorization = auth
	}
	return r, nil
}

func isChannel(s string) bool {
	if len(s) == 0 || len(s) > 9 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// reply formats a result line for r.
func (r Request) reply(result string) string {
	if r.Channel != "" {
		return r.Channel + " " + result + "\n"
	}
	return result + "\n"
}

func replyOK(storeID string) string { return "OK store-id=" + storeID }

// UnverifiedNote is the annotation on a request the CDN did not authorize
// (or could not be asked about). The snippet's "cache deny" on it keeps
// such a response out of the cache and the cache's answers from it: a
// later request for the same signed URL, expired by then, must ask the CDN.
const UnverifiedNote = "unverified=1"

// VerifiedNote marks a blob GET its own registry authorized for this
// client (a self-serving registry): the ICAP RESPMOD service may then let
// Squid store the registry's answer, which came to a request with
// Authorization. A request without it is never made storable.
const VerifiedNote = "verified=1"

func replyVerifiedByRegistry(storeID string) string { return replyOK(storeID) + " " + VerifiedNote }

func replyUnverified(storeID string) string { return replyOK(storeID) + " " + UnverifiedNote }

const replyERR = "ERR"

// replyBH says the line could not be understood: Squid logs the message.
func replyBH(err error) string {
	return `BH message="` + strings.ReplaceAll(err.Error(), `"`, `'`) + `"`
}
