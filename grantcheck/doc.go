// Package grantcheck keeps the IdP grants behind local credentials honest.
//
// An app password (or a FAST token) is checked locally, with no IdP request;
// the IdP stays the authority through the grant it hangs off: the refresh
// token of the browser sign-in that created it. A Checker refreshes each grant
// at most every Interval, in the background and, when a login finds its grant
// overdue, on the spot. A grant the IdP refuses (the user deleted or disabled,
// the session revoked) is disabled for good, which revokes its credentials and
// so ends their live sessions. An IdP that cannot be reached is given Grace
// before logins on an overdue grant get a temporary failure.
//
// It knows neither HTTP nor SQL nor XMPP: the store and the IdP enter through
// the Store and Refresher interfaces (internal/app adapts credstore and oauthx).
package grantcheck
