// Package ui serves Gatehouse's web pages under /ui/: login (every
// mechanism, usernameless passkeys included), credential update (also
// opened with a reset token), and the session list with logout.
//
// The pages are html/template documents with no inline script; the
// behaviour lives in small vanilla JS files under /ui/static/ that call the
// JSON API (docs/api.md) with the __Host-gatehouse-session cookie. The package
// holds no state and talks to no other package: everything it does goes
// through the public API, so a page works on any node of the cluster.
package ui
