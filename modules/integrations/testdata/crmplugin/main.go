// Command crmplugin is a tiny crm plugin for the host's tests: it appends
// every event it receives, with its call, to events.jsonl in its working
// directory (the plugin's folder), and rejects an event whose payload has
// "reject": true.
package main

import (
	"context"
	"encoding/json"
	"os"
	"sync"

	"github.com/yoyaku-oss/yoyaku/sdk"
)

type crm struct{ mu sync.Mutex }

// Received is one line of events.jsonl.
type Received struct {
	TenantID       string          `json:"tenant_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	Token          string          `json:"token"`
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	OccurredAt     string          `json:"occurred_at"`
	Payload        json.RawMessage `json:"payload"`
}

func (c *crm) HandleEvent(_ context.Context, call sdk.Call, ev sdk.Event) (sdk.CRMResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	line, err := json.Marshal(Received{TenantID: call.TenantID, IdempotencyKey: call.IdempotencyKey, Token: call.Settings["token"],
		ID: ev.ID, Type: ev.Type, OccurredAt: ev.OccurredAt.UTC().Format("2006-01-02T15:04:05.000Z"), Payload: ev.Payload})
	if err != nil {
		return sdk.CRMResult{}, err
	}
	f, err := os.OpenFile("events.jsonl", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return sdk.CRMResult{}, err
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return sdk.CRMResult{}, err
	}
	var p struct{ Reject bool }
	_ = json.Unmarshal(ev.Payload, &p)
	if p.Reject {
		return sdk.CRMResult{Outcome: sdk.OutcomeRejected, ErrorCode: "refused", Message: "the test CRM refuses this event"}, nil
	}
	return sdk.CRMResult{Outcome: sdk.OutcomeDone, ExternalID: "ext-" + ev.ID}, nil
}

func (c *crm) SyncMember(context.Context, sdk.Call, sdk.Member) (sdk.CRMResult, error) {
	return sdk.CRMResult{Outcome: sdk.OutcomeIgnored}, nil
}

func main() {
	sdk.Serve(sdk.Plugin{
		Info: sdk.Info{ID: "crmtest", Name: sdk.Text{Ja: "テストCRM", En: "Test CRM"}, Version: "1.0.0",
			Settings: []sdk.Setting{{Key: "token", Label: sdk.Text{Ja: "トークン", En: "Token"}, Type: sdk.TypeSecret, Required: true}}},
		CRM: &crm{},
	})
}
