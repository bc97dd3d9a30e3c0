package sdk

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Failures, as a plugin returns them and as the host receives them (the
// client side wraps every gRPC status in one of these, with the status
// message). A business outcome is never an error: it is a result field.
var (
	// ErrUnavailable: the plugin or its downstream cannot be reached now
	// (also what the host sees when the plugin process is gone). Retrying
	// later with the same idempotency key is safe.
	ErrUnavailable = errors.New("plugin unavailable")
	// ErrInvalid: the request itself is malformed (a host bug); retrying
	// will not help.
	ErrInvalid = errors.New("invalid plugin request")
	// ErrUnimplemented: the plugin does not offer the call.
	ErrUnimplemented = errors.New("not implemented by the plugin")
	// ErrFailed: any other failure of the plugin (a bug, a panic).
	ErrFailed = errors.New("plugin failed")
)

// toStatus turns an error an implementation returned into the gRPC status
// the host receives. context errors keep their meaning; an error that is
// already a status passes through.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, ErrUnavailable):
		code = codes.Unavailable
	case errors.Is(err, ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, ErrUnimplemented):
		code = codes.Unimplemented
	}
	return status.Error(code, err.Error())
}

// fromStatus turns a gRPC error the host received into one that wraps the
// matching sentinel (or context error), so host code uses errors.Is and
// never imports gRPC.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%w: %w", ErrFailed, err)
	}
	var kind error
	switch st.Code() {
	case codes.DeadlineExceeded:
		kind = context.DeadlineExceeded
	case codes.Canceled:
		kind = context.Canceled
	case codes.Unavailable:
		kind = ErrUnavailable
	case codes.InvalidArgument:
		kind = ErrInvalid
	case codes.Unimplemented:
		kind = ErrUnimplemented
	default:
		kind = ErrFailed
	}
	return fmt.Errorf("%w: %s", kind, st.Message())
}

// recoverTo turns a panic in an implementation into an Internal status, so
// one bad call does not end the plugin process and every call in flight.
// Deferred by every server method.
func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = status.Errorf(codes.Internal, "plugin panicked: %v\n%s", r, debug.Stack())
	}
}
