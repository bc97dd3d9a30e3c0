package sdk

import (
	"context"
	"net/http"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/yoyaku-oss/yoyaku/sdk/proto/yoyaku/plugin/v1"
)

// PaymentsGRPCPlugin is the go-plugin GRPCPlugin of the payments capability:
// the server side serves Impl, the client side is a Payments.
type PaymentsGRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the author's implementation; nil on the host side.
	Impl Payments
}

// GRPCServer registers the Payments service.
func (p *PaymentsGRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPaymentsServer(s, &paymentsServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Payments.
func (p *PaymentsGRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &paymentsClient{c: pb.NewPaymentsClient(c)}, nil
}

type paymentsServer struct {
	pb.UnimplementedPaymentsServer
	impl Payments
}

func (s *paymentsServer) CreatePayment(ctx context.Context, req *pb.CreatePaymentRequest) (_ *pb.CreatePaymentResponse, err error) {
	defer recoverTo(&err)
	r, err := s.impl.CreatePayment(ctx, callFromProto(req.GetContext()), PaymentRequest{
		Amount: req.GetAmount(), Currency: req.GetCurrency(), ReservationID: req.GetReservationId(),
		CustomerEmail: req.GetCustomerEmail(), Description: req.GetDescription(), Metadata: req.GetMetadata(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreatePaymentResponse{Payment: paymentToProto(r.Payment), Declined: r.Declined, ErrorCode: r.ErrorCode, Message: r.Message}, nil
}

func (s *paymentsServer) GetPayment(ctx context.Context, req *pb.GetPaymentRequest) (_ *pb.GetPaymentResponse, err error) {
	defer recoverTo(&err)
	r, err := s.impl.GetPayment(ctx, callFromProto(req.GetContext()), req.GetPaymentId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.GetPaymentResponse{Payment: paymentToProto(r.Payment), NotFound: r.NotFound}, nil
}

func (s *paymentsServer) CancelPayment(ctx context.Context, req *pb.CancelPaymentRequest) (_ *pb.CancelPaymentResponse, err error) {
	defer recoverTo(&err)
	r, err := s.impl.CancelPayment(ctx, callFromProto(req.GetContext()), CancelRequest{PaymentID: req.GetPaymentId(), Reason: req.GetReason()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CancelPaymentResponse{Payment: paymentToProto(r.Payment), Declined: r.Declined, ErrorCode: r.ErrorCode, Message: r.Message}, nil
}

func (s *paymentsServer) Refund(ctx context.Context, req *pb.RefundRequest) (_ *pb.RefundResponse, err error) {
	defer recoverTo(&err)
	r, err := s.impl.Refund(ctx, callFromProto(req.GetContext()), RefundRequest{PaymentID: req.GetPaymentId(), Amount: req.GetAmount(), Reason: req.GetReason()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.RefundResponse{RefundId: r.ID, Status: refundStatusToProto(r.Status), Amount: r.Amount, Declined: r.Declined, ErrorCode: r.ErrorCode, Message: r.Message}, nil
}

func (s *paymentsServer) HandleWebhook(ctx context.Context, req *pb.HandleWebhookRequest) (_ *pb.HandleWebhookResponse, err error) {
	defer recoverTo(&err)
	header := make(http.Header)
	for _, h := range req.GetHeaders() {
		header.Add(h.GetName(), h.GetValue())
	}
	r, err := s.impl.HandleWebhook(ctx, callFromProto(req.GetContext()), Webhook{Body: req.GetBody(), Header: header})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.HandleWebhookResponse{Outcome: webhookOutcomeToProto(r.Outcome), ErrorCode: r.ErrorCode, Message: r.Message}
	if r.Outcome == WebhookEvent {
		e := r.Event
		resp.Event = &pb.PaymentEvent{
			DedupeId: e.DedupeID, PaymentId: e.PaymentID, Kind: eventKindToProto(e.Kind), Amount: e.Amount,
			RefundId: e.RefundID, ReservationId: e.ReservationID, OccurredAt: timeToProto(e.OccurredAt),
		}
	}
	return resp, nil
}

type paymentsClient struct{ c pb.PaymentsClient }

func (c *paymentsClient) CreatePayment(ctx context.Context, call Call, req PaymentRequest) (PaymentResult, error) {
	resp, err := c.c.CreatePayment(ctx, &pb.CreatePaymentRequest{
		Context: callToProto(call), Amount: req.Amount, Currency: req.Currency, ReservationId: req.ReservationID,
		CustomerEmail: req.CustomerEmail, Description: req.Description, Metadata: req.Metadata,
	})
	if err != nil {
		return PaymentResult{}, fromStatus(err)
	}
	return PaymentResult{Payment: paymentFromProto(resp.GetPayment()), Declined: resp.GetDeclined(), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage()}, nil
}

func (c *paymentsClient) GetPayment(ctx context.Context, call Call, paymentID string) (PaymentLookup, error) {
	resp, err := c.c.GetPayment(ctx, &pb.GetPaymentRequest{Context: callToProto(call), PaymentId: paymentID})
	if err != nil {
		return PaymentLookup{}, fromStatus(err)
	}
	return PaymentLookup{Payment: paymentFromProto(resp.GetPayment()), NotFound: resp.GetNotFound()}, nil
}

func (c *paymentsClient) CancelPayment(ctx context.Context, call Call, req CancelRequest) (PaymentResult, error) {
	resp, err := c.c.CancelPayment(ctx, &pb.CancelPaymentRequest{Context: callToProto(call), PaymentId: req.PaymentID, Reason: req.Reason})
	if err != nil {
		return PaymentResult{}, fromStatus(err)
	}
	return PaymentResult{Payment: paymentFromProto(resp.GetPayment()), Declined: resp.GetDeclined(), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage()}, nil
}

func (c *paymentsClient) Refund(ctx context.Context, call Call, req RefundRequest) (RefundResult, error) {
	resp, err := c.c.Refund(ctx, &pb.RefundRequest{Context: callToProto(call), PaymentId: req.PaymentID, Amount: req.Amount, Reason: req.Reason})
	if err != nil {
		return RefundResult{}, fromStatus(err)
	}
	return RefundResult{
		ID: resp.GetRefundId(), Status: refundStatusFromProto(resp.GetStatus()), Amount: resp.GetAmount(),
		Declined: resp.GetDeclined(), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage(),
	}, nil
}

func (c *paymentsClient) HandleWebhook(ctx context.Context, call Call, hook Webhook) (WebhookResult, error) {
	req := &pb.HandleWebhookRequest{Context: callToProto(call), Body: hook.Body}
	for name, values := range hook.Header {
		for _, v := range values {
			req.Headers = append(req.Headers, &pb.Header{Name: name, Value: v})
		}
	}
	resp, err := c.c.HandleWebhook(ctx, req)
	if err != nil {
		return WebhookResult{}, fromStatus(err)
	}
	r := WebhookResult{Outcome: webhookOutcomeFromProto(resp.GetOutcome()), ErrorCode: resp.GetErrorCode(), Message: resp.GetMessage()}
	if e := resp.GetEvent(); r.Outcome == WebhookEvent && e != nil {
		r.Event = PaymentEvent{
			DedupeID: e.GetDedupeId(), PaymentID: e.GetPaymentId(), Kind: eventKindFromProto(e.GetKind()), Amount: e.GetAmount(),
			RefundID: e.GetRefundId(), ReservationID: e.GetReservationId(), OccurredAt: timeFromProto(e.GetOccurredAt()),
		}
	}
	if r.Outcome == WebhookEvent && (r.Event.DedupeID == "" || r.Event.PaymentID == "" || r.Event.Kind == "") {
		// An event the host cannot apply exactly once is no event: refuse it
		// rather than let a buggy plugin confirm a payment twice.
		return WebhookResult{Outcome: WebhookRejected, ErrorCode: "incomplete_event", Message: "the plugin reported an event without dedupe id, payment id or kind"}, nil
	}
	return r, nil
}

func paymentToProto(p Payment) *pb.Payment {
	if p == (Payment{}) {
		return nil
	}
	return &pb.Payment{
		Id: p.ID, Status: paymentStatusToProto(p.Status), Amount: p.Amount, Currency: p.Currency,
		AmountRefunded: p.AmountRefunded, ClientSecret: p.ClientSecret, ReservationId: p.ReservationID,
	}
}

func paymentFromProto(p *pb.Payment) Payment {
	return Payment{
		ID: p.GetId(), Status: paymentStatusFromProto(p.GetStatus()), Amount: p.GetAmount(), Currency: p.GetCurrency(),
		AmountRefunded: p.GetAmountRefunded(), ClientSecret: p.GetClientSecret(), ReservationID: p.GetReservationId(),
	}
}

func paymentStatusToProto(s PaymentStatus) pb.PaymentStatus {
	switch s {
	case PaymentPending:
		return pb.PaymentStatus_PAYMENT_STATUS_PENDING
	case PaymentProcessing:
		return pb.PaymentStatus_PAYMENT_STATUS_PROCESSING
	case PaymentSucceeded:
		return pb.PaymentStatus_PAYMENT_STATUS_SUCCEEDED
	case PaymentFailed:
		return pb.PaymentStatus_PAYMENT_STATUS_FAILED
	case PaymentCanceled:
		return pb.PaymentStatus_PAYMENT_STATUS_CANCELED
	}
	return pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED
}

// paymentStatusFromProto reads an unknown status as "" so that the host
// treats it as nothing known (never as succeeded).
func paymentStatusFromProto(s pb.PaymentStatus) PaymentStatus {
	switch s {
	case pb.PaymentStatus_PAYMENT_STATUS_PENDING:
		return PaymentPending
	case pb.PaymentStatus_PAYMENT_STATUS_PROCESSING:
		return PaymentProcessing
	case pb.PaymentStatus_PAYMENT_STATUS_SUCCEEDED:
		return PaymentSucceeded
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		return PaymentFailed
	case pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		return PaymentCanceled
	}
	return ""
}

func refundStatusToProto(s RefundStatus) pb.RefundStatus {
	switch s {
	case RefundPending:
		return pb.RefundStatus_REFUND_STATUS_PENDING
	case RefundSucceeded:
		return pb.RefundStatus_REFUND_STATUS_SUCCEEDED
	case RefundFailed:
		return pb.RefundStatus_REFUND_STATUS_FAILED
	}
	return pb.RefundStatus_REFUND_STATUS_UNSPECIFIED
}

func refundStatusFromProto(s pb.RefundStatus) RefundStatus {
	switch s {
	case pb.RefundStatus_REFUND_STATUS_PENDING:
		return RefundPending
	case pb.RefundStatus_REFUND_STATUS_SUCCEEDED:
		return RefundSucceeded
	case pb.RefundStatus_REFUND_STATUS_FAILED:
		return RefundFailed
	}
	return ""
}

func webhookOutcomeToProto(o WebhookOutcome) pb.WebhookOutcome {
	switch o {
	case WebhookEvent:
		return pb.WebhookOutcome_WEBHOOK_OUTCOME_EVENT
	case WebhookIgnored:
		return pb.WebhookOutcome_WEBHOOK_OUTCOME_IGNORED
	case WebhookRejected:
		return pb.WebhookOutcome_WEBHOOK_OUTCOME_REJECTED
	}
	return pb.WebhookOutcome_WEBHOOK_OUTCOME_UNSPECIFIED
}

// webhookOutcomeFromProto reads an unknown outcome as rejected, as the
// contract says.
func webhookOutcomeFromProto(o pb.WebhookOutcome) WebhookOutcome {
	switch o {
	case pb.WebhookOutcome_WEBHOOK_OUTCOME_EVENT:
		return WebhookEvent
	case pb.WebhookOutcome_WEBHOOK_OUTCOME_IGNORED:
		return WebhookIgnored
	}
	return WebhookRejected
}

func eventKindToProto(k PaymentEventKind) pb.PaymentEventKind {
	switch k {
	case PaymentEventSucceeded:
		return pb.PaymentEventKind_PAYMENT_EVENT_KIND_SUCCEEDED
	case PaymentEventFailed:
		return pb.PaymentEventKind_PAYMENT_EVENT_KIND_FAILED
	case PaymentEventRefunded:
		return pb.PaymentEventKind_PAYMENT_EVENT_KIND_REFUNDED
	}
	return pb.PaymentEventKind_PAYMENT_EVENT_KIND_UNSPECIFIED
}

func eventKindFromProto(k pb.PaymentEventKind) PaymentEventKind {
	switch k {
	case pb.PaymentEventKind_PAYMENT_EVENT_KIND_SUCCEEDED:
		return PaymentEventSucceeded
	case pb.PaymentEventKind_PAYMENT_EVENT_KIND_FAILED:
		return PaymentEventFailed
	case pb.PaymentEventKind_PAYMENT_EVENT_KIND_REFUNDED:
		return PaymentEventRefunded
	}
	return ""
}
