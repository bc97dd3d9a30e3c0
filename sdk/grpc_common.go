package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
	pb "github.com/yoyaku-oss/yoyaku/sdk/proto/yoyaku/plugin/v1"
)

// CommonGRPCPlugin is the go-plugin GRPCPlugin of the common Plugin service:
// the server side serves Plugin's Info, Health and settings; the client side
// is a Common.
type CommonGRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Plugin is what is served; empty on the host side.
	Plugin Plugin
}

// GRPCServer registers the Plugin service.
func (p *CommonGRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPluginServer(s, &commonServer{impl: common{p.Plugin}})
	return nil
}

// GRPCClient returns a Common.
func (p *CommonGRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &commonClient{c: pb.NewPluginClient(c)}, nil
}

type commonServer struct {
	pb.UnimplementedPluginServer
	impl Common
}

func (s *commonServer) Info(ctx context.Context, _ *pb.InfoRequest) (_ *pb.InfoResponse, err error) {
	defer recoverTo(&err)
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return infoToProto(info), nil
}

func (s *commonServer) Health(ctx context.Context, req *pb.HealthRequest) (_ *pb.HealthResponse, err error) {
	defer recoverTo(&err)
	h, err := s.impl.Health(ctx, callFromProto(req.GetContext()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.HealthResponse{Status: healthStatusToProto(h.Status), Message: h.Message}, nil
}

func (s *commonServer) ValidateSettings(ctx context.Context, req *pb.ValidateSettingsRequest) (_ *pb.ValidateSettingsResponse, err error) {
	defer recoverTo(&err)
	problems, err := s.impl.ValidateSettings(ctx, callFromProto(req.GetContext()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ValidateSettingsResponse{Problems: problemsToProto(problems)}, nil
}

func (s *commonServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (_ *pb.ConfigureResponse, err error) {
	defer recoverTo(&err)
	c, err := s.impl.Configure(ctx, callFromProto(req.GetContext()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{Problems: problemsToProto(c.Problems), Message: c.Message}, nil
}

type commonClient struct{ c pb.PluginClient }

func (c *commonClient) Info(ctx context.Context) (Info, error) {
	resp, err := c.c.Info(ctx, &pb.InfoRequest{Context: &pb.Context{}})
	if err != nil {
		return Info{}, fromStatus(err)
	}
	return infoFromProto(resp), nil
}

func (c *commonClient) Health(ctx context.Context, call Call) (Health, error) {
	resp, err := c.c.Health(ctx, &pb.HealthRequest{Context: callToProto(call)})
	if err != nil {
		return Health{}, fromStatus(err)
	}
	return Health{Status: healthStatusFromProto(resp.GetStatus()), Message: resp.GetMessage()}, nil
}

func (c *commonClient) ValidateSettings(ctx context.Context, call Call) ([]SettingProblem, error) {
	resp, err := c.c.ValidateSettings(ctx, &pb.ValidateSettingsRequest{Context: callToProto(call)})
	if err != nil {
		return nil, fromStatus(err)
	}
	return problemsFromProto(resp.GetProblems()), nil
}

func (c *commonClient) Configure(ctx context.Context, call Call) (Configured, error) {
	resp, err := c.c.Configure(ctx, &pb.ConfigureRequest{Context: callToProto(call)})
	if err != nil {
		return Configured{}, fromStatus(err)
	}
	return Configured{Problems: problemsFromProto(resp.GetProblems()), Message: resp.GetMessage()}, nil
}

// Converters between the Go types and the generated ones.

func callToProto(c Call) *pb.Context {
	return &pb.Context{TenantId: c.TenantID, RequestId: c.RequestID, IdempotencyKey: c.IdempotencyKey, Settings: c.Settings}
}

func callFromProto(c *pb.Context) Call {
	return Call{TenantID: c.GetTenantId(), RequestID: c.GetRequestId(), IdempotencyKey: c.GetIdempotencyKey(), Settings: c.GetSettings()}
}

func textToProto(t Text) *pb.Text {
	if t.IsZero() {
		return nil
	}
	return &pb.Text{Ja: t.Ja, En: t.En}
}

func textFromProto(t *pb.Text) Text { return Text{Ja: t.GetJa(), En: t.GetEn()} }

func settingTypeToProto(t SettingType) pb.SettingType {
	switch t {
	case TypeString:
		return pb.SettingType_SETTING_TYPE_STRING
	case TypeSecret:
		return pb.SettingType_SETTING_TYPE_SECRET
	case TypeNumber:
		return pb.SettingType_SETTING_TYPE_NUMBER
	case TypeBool:
		return pb.SettingType_SETTING_TYPE_BOOL
	case TypeChoice:
		return pb.SettingType_SETTING_TYPE_CHOICE
	}
	return pb.SettingType_SETTING_TYPE_UNSPECIFIED
}

func settingTypeFromProto(t pb.SettingType) SettingType {
	switch t {
	case pb.SettingType_SETTING_TYPE_STRING:
		return TypeString
	case pb.SettingType_SETTING_TYPE_SECRET:
		return TypeSecret
	case pb.SettingType_SETTING_TYPE_NUMBER:
		return TypeNumber
	case pb.SettingType_SETTING_TYPE_BOOL:
		return TypeBool
	case pb.SettingType_SETTING_TYPE_CHOICE:
		return TypeChoice
	}
	return ""
}

func infoToProto(info Info) *pb.InfoResponse {
	resp := &pb.InfoResponse{Id: info.ID, Version: info.Version, Capabilities: info.Capabilities, Name: textToProto(info.Name)}
	for _, s := range info.Settings {
		f := &pb.SettingField{Key: s.Key, Label: textToProto(s.Label), Type: settingTypeToProto(s.Type), Required: s.Required, Help: textToProto(s.Help)}
		for _, c := range s.Choices {
			f.Choices = append(f.Choices, &pb.Choice{Value: c.Value, Label: textToProto(c.Label)})
		}
		resp.Settings = append(resp.Settings, f)
	}
	return resp
}

func infoFromProto(resp *pb.InfoResponse) Info {
	info := Info{ID: resp.GetId(), Version: resp.GetVersion(), Capabilities: resp.GetCapabilities(), Name: textFromProto(resp.GetName())}
	for _, f := range resp.GetSettings() {
		s := Setting{Key: f.GetKey(), Label: textFromProto(f.GetLabel()), Required: f.GetRequired(), Help: textFromProto(f.GetHelp()), Type: settingTypeFromProto(f.GetType())}
		for _, c := range f.GetChoices() {
			s.Choices = append(s.Choices, Choice{Value: c.GetValue(), Label: textFromProto(c.GetLabel())})
		}
		info.Settings = append(info.Settings, s)
	}
	return info
}

func healthStatusToProto(s HealthStatus) pb.HealthStatus {
	switch s {
	case HealthOK:
		return pb.HealthStatus_HEALTH_STATUS_OK
	case HealthDegraded:
		return pb.HealthStatus_HEALTH_STATUS_DEGRADED
	case HealthDown:
		return pb.HealthStatus_HEALTH_STATUS_DOWN
	}
	return pb.HealthStatus_HEALTH_STATUS_UNSPECIFIED
}

// healthStatusFromProto reads an unknown status as down, as the contract says.
func healthStatusFromProto(s pb.HealthStatus) HealthStatus {
	switch s {
	case pb.HealthStatus_HEALTH_STATUS_OK:
		return HealthOK
	case pb.HealthStatus_HEALTH_STATUS_DEGRADED:
		return HealthDegraded
	}
	return HealthDown
}

func problemsToProto(ps []SettingProblem) []*pb.SettingProblem {
	out := make([]*pb.SettingProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, &pb.SettingProblem{Key: p.Key, Code: p.Code, Message: p.Message})
	}
	return out
}

func problemsFromProto(ps []*pb.SettingProblem) []SettingProblem {
	var out []SettingProblem
	for _, p := range ps {
		out = append(out, manifest.Problem{Key: p.GetKey(), Code: p.GetCode(), Message: p.GetMessage()})
	}
	return out
}
