package sdk

import "context"

// SSO lets members log in with an external identity provider. The plugin
// keeps no state between the calls: the host keeps state, nonce and the code
// verifier.
type SSO interface {
	// AuthorizeURL returns where to send the member's browser.
	AuthorizeURL(ctx context.Context, call Call, req AuthorizeRequest) (Authorization, error)
	// Exchange turns the callback's code into the member's identity.
	Exchange(ctx context.Context, call Call, req ExchangeRequest) (ExchangeResult, error)
}

// AuthorizeRequest asks for the provider's login URL.
type AuthorizeRequest struct {
	// RedirectURI is the host's callback URL.
	RedirectURI string
	// State is the host's anti-CSRF value, echoed by the provider.
	State string
	// Nonce binds the ID token to this login.
	Nonce string
	// Locale is "ja" or "en", a hint for the provider's pages.
	Locale string
}

// Authorization is where to send the browser.
type Authorization struct {
	// URL is the provider's login URL.
	URL string
	// CodeVerifier is the PKCE verifier the host keeps for Exchange.
	CodeVerifier string
	// ErrorCode is set when no URL can be made (e.g. "not_configured").
	ErrorCode string
	// Message explains ErrorCode. No secrets.
	Message string
}

// ExchangeRequest turns a code into an identity.
type ExchangeRequest struct {
	Code         string
	RedirectURI  string
	Nonce        string
	CodeVerifier string
}

// ExchangeResult is the identity, or why there is none.
type ExchangeResult struct {
	// Denied is true when the provider refused the login.
	Denied   bool
	Identity Identity
	// ErrorCode is a stable reason for a denial.
	ErrorCode string
	// Message explains a denial. No secrets.
	Message string
}

// Identity is what the provider vouches for.
type Identity struct {
	// Subject is the provider's stable id for the person.
	Subject string
	// Issuer identifies the provider.
	Issuer        string
	Email         string
	EmailVerified bool
	Name          string
	// Claims are further claims, flattened to strings.
	Claims map[string]string
}
