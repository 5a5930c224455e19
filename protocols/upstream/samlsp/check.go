package samlsp

import (
	"encoding/xml"
	"fmt"
	"time"
)

// The SAML elements ParseResponse reads. Only what it checks or maps.
type (
	xmlResponse struct {
		XMLName      xml.Name   `xml:"urn:oasis:names:tc:SAML:2.0:protocol Response"`
		ID           string     `xml:"ID,attr"`
		InResponseTo string     `xml:"InResponseTo,attr"`
		Destination  string     `xml:"Destination,attr"`
		Version      string     `xml:"Version,attr"`
		Issuer       *xmlIssuer `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
		Status       *xmlStatus `xml:"urn:oasis:names:tc:SAML:2.0:protocol Status"`
	}
	xmlStatus struct {
		Code    *xmlStatusCode `xml:"urn:oasis:names:tc:SAML:2.0:protocol StatusCode"`
		Message string         `xml:"urn:oasis:names:tc:SAML:2.0:protocol StatusMessage"`
	}
	xmlStatusCode struct {
		Value string         `xml:"Value,attr"`
		Sub   *xmlStatusCode `xml:"urn:oasis:names:tc:SAML:2.0:protocol StatusCode"`
	}
	xmlIssuer struct {
		Value string `xml:",chardata"`
	}
	xmlAssertion struct {
		XMLName             xml.Name                `xml:"urn:oasis:names:tc:SAML:2.0:assertion Assertion"`
		ID                  string                  `xml:"ID,attr"`
		Issuer              *xmlIssuer              `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
		Subject             *xmlSubject             `xml:"urn:oasis:names:tc:SAML:2.0:assertion Subject"`
		Conditions          *xmlConditions          `xml:"urn:oasis:names:tc:SAML:2.0:assertion Conditions"`
		AuthnStatements     []xmlAuthnStatement     `xml:"urn:oasis:names:tc:SAML:2.0:assertion AuthnStatement"`
		AttributeStatements []xmlAttributeStatement `xml:"urn:oasis:names:tc:SAML:2.0:assertion AttributeStatement"`
	}
	xmlSubject struct {
		NameID        *xmlNameID               `xml:"urn:oasis:names:tc:SAML:2.0:assertion NameID"`
		Confirmations []xmlSubjectConfirmation `xml:"urn:oasis:names:tc:SAML:2.0:assertion SubjectConfirmation"`
	}
	xmlNameID struct {
		Format string `xml:"Format,attr"`
		Value  string `xml:",chardata"`
	}
	xmlSubjectConfirmation struct {
		Method string                      `xml:"Method,attr"`
		Data   *xmlSubjectConfirmationData `xml:"urn:oasis:names:tc:SAML:2.0:assertion SubjectConfirmationData"`
	}
	xmlSubjectConfirmationData struct {
		NotBefore    string `xml:"NotBefore,attr"`
		NotOnOrAfter string `xml:"NotOnOrAfter,attr"`
		Recipient    string `xml:"Recipient,attr"`
		InResponseTo string `xml:"InResponseTo,attr"`
	}
	xmlConditions struct {
		NotBefore            string                   `xml:"NotBefore,attr"`
		NotOnOrAfter         string                   `xml:"NotOnOrAfter,attr"`
		AudienceRestrictions []xmlAudienceRestriction `xml:"urn:oasis:names:tc:SAML:2.0:assertion AudienceRestriction"`
	}
	xmlAudienceRestriction struct {
		Audiences []string `xml:"urn:oasis:names:tc:SAML:2.0:assertion Audience"`
	}
	xmlAuthnStatement struct {
		Context *struct {
			ClassRef string `xml:"urn:oasis:names:tc:SAML:2.0:assertion AuthnContextClassRef"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:assertion AuthnContext"`
	}
	xmlAttributeStatement struct {
		Attributes []xmlAttribute `xml:"urn:oasis:names:tc:SAML:2.0:assertion Attribute"`
	}
	xmlAttribute struct {
		Name         string   `xml:"Name,attr"`
		FriendlyName string   `xml:"FriendlyName,attr"`
		Values       []string `xml:"urn:oasis:names:tc:SAML:2.0:assertion AttributeValue"`
	}
)

// checkResponse applies the Web Browser SSO profile's rules that gosaml2
// leaves to us (it reports time and audience only as warnings) and returns
// the end of the assertion's validity for the replay cache.
func (sp *SP) checkResponse(r *xmlResponse, a *xmlAssertion, responseSigned bool, expectedRequestID string, now time.Time) (time.Time, error) {
	var zero time.Time
	if r.Version != "2.0" {
		return zero, fmt.Errorf("%w: SAML version %q, want 2.0", ErrMalformed, r.Version)
	}
	// Issuer: the assertion's is required; the Response's is optional in
	// the schema but must agree when present.
	if a.Issuer == nil || a.Issuer.Value != sp.cfg.IdPEntityID {
		got := ""
		if a.Issuer != nil {
			got = a.Issuer.Value
		}
		return zero, fmt.Errorf("%w: assertion issuer %q, want the IdP entity id %q", ErrIssuer, got, sp.cfg.IdPEntityID)
	}
	if r.Issuer != nil && r.Issuer.Value != sp.cfg.IdPEntityID {
		return zero, fmt.Errorf("%w: response issuer %q, want the IdP entity id %q", ErrIssuer, r.Issuer.Value, sp.cfg.IdPEntityID)
	}
	if r.Status == nil || r.Status.Code == nil || r.Status.Code.Value != statusSuccess {
		return zero, fmt.Errorf("%w: %s", ErrStatus, statusText(r.Status))
	}
	// The bindings spec makes Destination mandatory on a signed Response;
	// on an unsigned one it is optional (the assertion's Recipient counts).
	if responseSigned && r.Destination == "" {
		return zero, fmt.Errorf("%w: signed response without a Destination", ErrRecipient)
	}
	if r.Destination != "" && r.Destination != sp.cfg.ACSURL {
		return zero, fmt.Errorf("%w: response Destination %q, want our ACS URL %q", ErrRecipient, r.Destination, sp.cfg.ACSURL)
	}
	if a.ID == "" {
		return zero, ErrNoAssertionID
	}
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		return zero, fmt.Errorf("%w: no NameID", ErrNoSubject)
	}
	var scd *xmlSubjectConfirmationData
	for _, c := range a.Subject.Confirmations {
		if c.Method == methodBearer && c.Data != nil {
			scd = c.Data
			break
		}
	}
	if scd == nil {
		return zero, fmt.Errorf("%w: no bearer SubjectConfirmationData", ErrMalformed)
	}
	if scd.Recipient != sp.cfg.ACSURL {
		return zero, fmt.Errorf("%w: assertion Recipient %q, want our ACS URL %q", ErrRecipient, scd.Recipient, sp.cfg.ACSURL)
	}
	if err := checkInResponseTo(r.InResponseTo, scd.InResponseTo, expectedRequestID); err != nil {
		return zero, err
	}

	// Validity window: the bearer confirmation's and the Conditions'.
	end, err := parseTime("SubjectConfirmationData NotOnOrAfter", scd.NotOnOrAfter, true)
	if err != nil {
		return zero, err
	}
	if err := checkWindow(scd.NotBefore, scd.NotOnOrAfter, "subject confirmation", now); err != nil {
		return zero, err
	}
	c := a.Conditions
	if c == nil {
		return zero, fmt.Errorf("%w: no Conditions (the audience restriction is required)", ErrAudience)
	}
	if err := checkWindow(c.NotBefore, c.NotOnOrAfter, "conditions", now); err != nil {
		return zero, err
	}
	if c.NotOnOrAfter != "" {
		if t, _ := parseTime("", c.NotOnOrAfter, false); t.After(end) {
			end = t
		}
	}
	if len(c.AudienceRestrictions) == 0 {
		return zero, fmt.Errorf("%w: no AudienceRestriction naming %q", ErrAudience, sp.cfg.SPEntityID)
	}
	for _, ar := range c.AudienceRestrictions {
		ok := false
		for _, aud := range ar.Audiences {
			if aud == sp.cfg.SPEntityID {
				ok = true
				break
			}
		}
		if !ok {
			return zero, fmt.Errorf("%w: audience %q does not include our entity id %q", ErrAudience, ar.Audiences, sp.cfg.SPEntityID)
		}
	}
	return end, nil
}

// checkInResponseTo: only SP-initiated logins are accepted, so the response
// must answer the request this browser's login sent.
func checkInResponseTo(responseIRT, assertionIRT, expected string) error {
	if expected == "" {
		got := "missing"
		if assertionIRT != "" {
			got = fmt.Sprintf("%q", assertionIRT)
		}
		return fmt.Errorf("%w (InResponseTo %s, and no request of ours is pending: IdP-initiated login is not accepted)", ErrUnsolicited, got)
	}
	if assertionIRT == "" {
		return fmt.Errorf("%w (InResponseTo missing, expected %q)", ErrUnsolicited, expected)
	}
	if assertionIRT != expected {
		return fmt.Errorf("%w (InResponseTo %q, expected %q)", ErrUnsolicited, assertionIRT, expected)
	}
	if responseIRT != "" && responseIRT != expected {
		return fmt.Errorf("%w (response InResponseTo %q, expected %q)", ErrUnsolicited, responseIRT, expected)
	}
	return nil
}

// checkWindow refuses now outside [notBefore-skew, notOnOrAfter).
func checkWindow(notBefore, notOnOrAfter, what string, now time.Time) error {
	if notBefore != "" {
		t, err := parseTime(what+" NotBefore", notBefore, true)
		if err != nil {
			return err
		}
		if now.Add(clockSkew).Before(t) {
			return fmt.Errorf("%w: %s NotBefore %s is after now %s", ErrNotYetValid, what, notBefore, now.UTC().Format(time.RFC3339Nano))
		}
	}
	if notOnOrAfter != "" {
		t, err := parseTime(what+" NotOnOrAfter", notOnOrAfter, true)
		if err != nil {
			return err
		}
		if !now.Before(t) {
			return fmt.Errorf("%w: %s NotOnOrAfter %s, now %s", ErrExpired, what, notOnOrAfter, now.UTC().Format(time.RFC3339Nano))
		}
	}
	return nil
}

func parseTime(what, v string, required bool) (time.Time, error) {
	if v == "" && required {
		return time.Time{}, fmt.Errorf("%w: %s missing", ErrMalformed, what)
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not an xs:dateTime", ErrMalformed, what, v)
	}
	return t, nil
}

// statusText names a non-success status, with the IdP's message.
func statusText(s *xmlStatus) string {
	if s == nil || s.Code == nil {
		return "no status"
	}
	out := s.Code.Value
	if s.Code.Sub != nil && s.Code.Sub.Value != "" {
		out += " / " + s.Code.Sub.Value
	}
	if s.Message != "" {
		out += ": " + s.Message
	}
	return out
}
