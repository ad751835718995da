package portal

import (
	"crypto/subtle"
	"net/http"
)

// csrfField is the hidden form field carrying the session's CSRF token.
const csrfField = "csrf"

// validCSRF compares the form's token with the session's in constant time.
// The form must already be parsed (with a bounded body).
func validCSRF(r *http.Request, sess session) bool {
	got := r.PostForm.Get(csrfField)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}
