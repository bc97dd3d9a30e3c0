package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/yoyaku-oss/yoyaku/sdk/proto/yoyaku/plugin/v1"
)

// SSOGRPCPlugin is the go-plugin GRPCPlugin of the SSO capability: the server
// side serves Impl, the client side is an SSO.
type SSOGRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the author's implementation; nil on the host side.
	Impl SSO
}

// GRPCServer registers the SSO service.
func (p *SSOGRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSSOServer(s, &ssoServer{impl: p.Impl})
	return nil
}

// GRPCClient returns an SSO.
func (p *SSOGRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &ssoClient{c: pb.NewSSOClient(c)}, nil
}

type ssoServer struct {
	pb.UnimplementedSSOServer
	impl SSO
}

func (s *ssoServer) AuthorizeURL(ctx context.Context, req *pb.AuthorizeURLRequest) (_ *pb.AuthorizeURLResponse, err error) {
	defer recoverTo(&err)
	a, err := s.impl.AuthorizeURL(ctx, callFromProto(req.GetContext()), AuthorizeRequest{
		RedirectURI: req.GetRedirectUri(), State: req.GetState(), Nonce: req.GetNonce(), Locale: req.GetLocale(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.AuthorizeURLResponse{Url: a.URL, CodeVerifier: a.CodeVerifier, ErrorCode: a.ErrorCode, Message: a.Message}, nil
}

func (s *ssoServer) Exchange(ctx context.Context, req *pb.ExchangeRequest) (_ *pb.ExchangeResponse, err error) {
	defer recoverTo(&err)
	r, err := s.impl.Exchange(ctx, callFromProto(req.GetContext()), ExchangeRequest{
		Code: req.GetCode(), RedirectURI: req.GetRedirectUri(), Nonce: req.GetNonce(), CodeVerifier: req.GetCodeVerifier(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ExchangeResponse{Denied: r.Denied, ErrorCode: r.ErrorCode, Message: r.Message}
	if !r.Denied {
		id := r.Identity
		resp.Identity = &pb.Identity{Subject: id.Subject, Issuer: id.Issuer, Email: id.Email, EmailVerified: id.EmailVerified, Name: id.Name, Claims: id.Claims}
	}
	return resp, nil
}

type ssoClient struct{ c pb.SSOClient }

func (c *ssoClient) AuthorizeURL(ctx context.Context, call Call, req AuthorizeRequest) (Authorization, error) {
	resp, err := c.c.AuthorizeURL(ctx, &pb.AuthorizeURLRequest{
		Context: callToProto(call), RedirectUri: req.RedirectURI, State: req.State, Nonce: req.Nonce, Locale: req.Locale,
	})
	if err != nil {
		return Authorization{}, fromStatus(err)
	}
	return Authorization{URL: resp.GetUrl(), CodeVerifier: resp.GetCodeVerifier(), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage()}, nil
}

func (c *ssoClient) Exchange(ctx context.Context, call Call, req ExchangeRequest) (ExchangeResult, error) {
	resp, err := c.c.Exchange(ctx, &pb.ExchangeRequest{
		Context: callToProto(call), Code: req.Code, RedirectUri: req.RedirectURI, Nonce: req.Nonce, CodeVerifier: req.CodeVerifier,
	})
	if err != nil {
		return ExchangeResult{}, fromStatus(err)
	}
	id := resp.GetIdentity()
	return ExchangeResult{
		Denied: resp.GetDenied(), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage(),
		Identity: Identity{Subject: id.GetSubject(), Issuer: id.GetIssuer(), Email: id.GetEmail(), EmailVerified: id.GetEmailVerified(), Name: id.GetName(), Claims: id.GetClaims()},
	}, nil
}
