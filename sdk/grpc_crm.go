package sdk

import (
	"context"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/yoyaku-oss/yoyaku/sdk/proto/yoyaku/plugin/v1"
)

// CRMGRPCPlugin is the go-plugin GRPCPlugin of the CRM capability: the server
// side serves Impl, the client side is a CRM.
type CRMGRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the author's implementation; nil on the host side.
	Impl CRM
}

// GRPCServer registers the CRM service.
func (p *CRMGRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterCRMServer(s, &crmServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a CRM.
func (p *CRMGRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &crmClient{c: pb.NewCRMClient(c)}, nil
}

type crmServer struct {
	pb.UnimplementedCRMServer
	impl CRM
}

func (s *crmServer) HandleEvent(ctx context.Context, req *pb.HandleEventRequest) (_ *pb.HandleEventResponse, err error) {
	defer recoverTo(&err)
	ev := req.GetEvent()
	r, err := s.impl.HandleEvent(ctx, callFromProto(req.GetContext()), Event{
		ID: ev.GetId(), Type: ev.GetType(), OccurredAt: timeFromProto(ev.GetOccurredAt()), Payload: ev.GetPayload(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.HandleEventResponse{Outcome: outcomeToProto(r.Outcome), ExternalId: r.ExternalID, ErrorCode: r.ErrorCode, Message: r.Message}, nil
}

func (s *crmServer) SyncMember(ctx context.Context, req *pb.SyncMemberRequest) (_ *pb.SyncMemberResponse, err error) {
	defer recoverTo(&err)
	r, err := s.impl.SyncMember(ctx, callFromProto(req.GetContext()), memberFromProto(req.GetMember()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SyncMemberResponse{Outcome: outcomeToProto(r.Outcome), ExternalId: r.ExternalID, ErrorCode: r.ErrorCode, Message: r.Message}, nil
}

type crmClient struct{ c pb.CRMClient }

func (c *crmClient) HandleEvent(ctx context.Context, call Call, ev Event) (CRMResult, error) {
	resp, err := c.c.HandleEvent(ctx, &pb.HandleEventRequest{Context: callToProto(call), Event: &pb.Event{
		Id: ev.ID, Type: ev.Type, OccurredAt: timeToProto(ev.OccurredAt), Payload: ev.Payload,
	}})
	if err != nil {
		return CRMResult{}, fromStatus(err)
	}
	return CRMResult{Outcome: outcomeFromProto(resp.GetOutcome()), ExternalID: resp.GetExternalId(), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage()}, nil
}

func (c *crmClient) SyncMember(ctx context.Context, call Call, m Member) (CRMResult, error) {
	resp, err := c.c.SyncMember(ctx, &pb.SyncMemberRequest{Context: callToProto(call), Member: memberToProto(m)})
	if err != nil {
		return CRMResult{}, fromStatus(err)
	}
	return CRMResult{Outcome: outcomeFromProto(resp.GetOutcome()), ExternalID: resp.GetExternalId(), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage()}, nil
}

func memberToProto(m Member) *pb.Member {
	return &pb.Member{Id: m.ID, Email: m.Email, Name: m.Name, NameKana: m.NameKana, Phone: m.Phone, Attributes: m.Attributes, UpdatedAt: timeToProto(m.UpdatedAt), Deleted: m.Deleted}
}

func memberFromProto(m *pb.Member) Member {
	return Member{ID: m.GetId(), Email: m.GetEmail(), Name: m.GetName(), NameKana: m.GetNameKana(), Phone: m.GetPhone(), Attributes: m.GetAttributes(), UpdatedAt: timeFromProto(m.GetUpdatedAt()), Deleted: m.GetDeleted()}
}

func outcomeToProto(o Outcome) pb.Outcome {
	switch o {
	case OutcomeDone:
		return pb.Outcome_OUTCOME_DONE
	case OutcomeIgnored:
		return pb.Outcome_OUTCOME_IGNORED
	case OutcomeRejected:
		return pb.Outcome_OUTCOME_REJECTED
	}
	return pb.Outcome_OUTCOME_UNSPECIFIED
}

// outcomeFromProto reads an unknown outcome as done, as the contract says.
func outcomeFromProto(o pb.Outcome) Outcome {
	switch o {
	case pb.Outcome_OUTCOME_IGNORED:
		return OutcomeIgnored
	case pb.Outcome_OUTCOME_REJECTED:
		return OutcomeRejected
	}
	return OutcomeDone
}

// timeToProto sends the zero time as no timestamp.
func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}
