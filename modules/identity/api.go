package identity

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// API serves identity's part of the tenant API (/api/v1/..., API keys):
// who am I, staff, API keys, the allow-list and the operation log. Every
// route checks the key's role in the authorization policy.
type API struct {
	cfg     ConsoleConfig
	baseURL string
}

// NewAPI returns the tenant API handlers; baseURL prefixes invitation links.
func NewAPI(cfg ConsoleConfig, baseURL string) *API { return &API{cfg: cfg, baseURL: baseURL} }

// Register adds the routes to g (the /api/v1 group after APIKeyAuth).
func (a *API) Register(g *gin.RouterGroup) {
	g.GET("/me", a.me)
	g.GET("/staff", a.need(authz.AreaStaff, authz.ActionView), a.listStaff)
	g.POST("/staff", a.need(authz.AreaStaff, authz.ActionEdit), a.inviteStaff)
	g.GET("/api-keys", a.need(authz.AreaSettings, authz.ActionView), a.listKeys)
	g.POST("/api-keys", a.need(authz.AreaSettings, authz.ActionEdit), a.createKey)
	g.DELETE("/api-keys/:id", a.need(authz.AreaSettings, authz.ActionEdit), a.revokeKey)
	g.GET("/allowlist", a.need(authz.AreaSettings, authz.ActionView), a.getAllowList)
	g.PUT("/allowlist", a.need(authz.AreaSettings, authz.ActionEdit), a.putAllowList)
	g.GET("/audit", a.need(authz.AreaAudit, authz.ActionView), a.audit)
}

func apiReq(c *gin.Context) (tenants.Tenant, bun.IDB, Principal, error) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	p, _ := PrincipalFrom(ctx)
	db, err := tenantdb.From(ctx)
	return t, db, p, err
}

// need refuses what the key's role does not allow: 403 and a log entry.
func (a *API) need(area authz.Area, action authz.Action) gin.HandlerFunc {
	return needing(area, action, a.cfg.Perms, httpx.Fail)
}

// Need is the tenant API's permission check for the routes of other
// modules: the key's role must allow action in area, or the answer is a
// problem (403) and the refusal is in the operation log.
func (a *API) Need(area authz.Area, action authz.Action) gin.HandlerFunc { return a.need(area, action) }

type meJSON struct {
	Tenant      string            `json:"tenant"`
	KeyID       string            `json:"key_id"`
	KeyName     string            `json:"key_name"`
	Role        string            `json:"role"`
	Permissions map[string]string `json:"permissions"`
}

func (a *API) me(c *gin.Context) {
	t, db, p, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	levels, err := a.cfg.Perms.Levels(c.Request.Context(), db, t.ID, p.Subject())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	perms := map[string]string{}
	for _, ar := range authz.Areas() {
		perms[string(ar)] = string(levels[ar])
	}
	c.JSON(http.StatusOK, meJSON{Tenant: t.Slug, KeyID: p.ID, KeyName: p.Name, Role: p.Role, Permissions: perms})
}

type staffJSON struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	Status      string    `json:"status"`
	TwoFactor   bool      `json:"two_factor"`
	MenuIDs     []string  `json:"menu_ids"`
	CreatedAt   time.Time `json:"created_at"`
	SetupURL    string    `json:"setup_url,omitempty"`
}

func toStaffJSON(st Staff) staffJSON {
	m := st.MenuIDs
	if m == nil {
		m = []string{}
	}
	return staffJSON{ID: st.ID, Email: st.Email, DisplayName: st.DisplayName, Role: st.Role, Status: string(st.Status),
		TwoFactor: st.TOTPEnabled, MenuIDs: m, CreatedAt: st.CreatedAt}
}

func (a *API) listStaff(c *gin.Context) {
	_, db, _, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	list, err := a.cfg.Staff.ListStaff(c.Request.Context(), db, StaffFilter{})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := make([]staffJSON, 0, len(list))
	for _, st := range list {
		out = append(out, toStaffJSON(st))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type inviteRequest struct {
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
}

func (a *API) inviteStaff(c *gin.Context) {
	t, db, p, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req inviteRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := mayGrant(ctx, a.cfg.Perms, db, t, p, req.Role); err != nil {
		httpx.Fail(c, err)
		return
	}
	var st Staff
	var link string
	var evs []outbox.Event
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		var token string
		st, token, err = a.cfg.Staff.Invite(ctx, tx, p, req.Email, req.DisplayName, req.Role)
		if err == nil && a.cfg.AssignRole != nil {
			err = a.cfg.AssignRole(ctx, tx, t.ID, authz.StaffSubject(st.ID), req.Role)
		}
		if err != nil {
			return err
		}
		link = a.baseURL + "/t/" + t.Slug + "/admin/setup/" + token
		evs, err = a.cfg.invited(ctx, tx, st, link, p, t.Locale)
		return err
	})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if a.cfg.Notify != nil {
		a.cfg.Notify(ctx, t.ID, evs)
	}
	out := toStaffJSON(st)
	out.SetupURL = link
	c.JSON(http.StatusCreated, out)
}

// mayGrant refuses to give a role the caller may not give: only who may
// manage owners gives the owner role; a role that does not exist is the
// policy's 404 later.
func mayGrant(ctx context.Context, perms Permissions, db bun.IDB, t tenants.Tenant, p Principal, role string) error {
	if role != authz.RoleOwner {
		return nil
	}
	ok, err := perms.CanManageOwners(ctx, db, t.ID, p.Subject())
	if err != nil {
		return err
	}
	if !ok {
		return ErrForbidden
	}
	return nil
}

type keyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Prefix     string     `json:"prefix"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Key        string     `json:"key,omitempty"`
}

func toKeyJSON(k APIKey) keyJSON {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return keyJSON{ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix, CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt, LastUsedAt: opt(k.LastUsedAt), RevokedAt: opt(k.RevokedAt)}
}

func (a *API) listKeys(c *gin.Context) {
	_, db, _, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	list, err := a.cfg.APIKeys.ListAPIKeys(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := make([]keyJSON, 0, len(list))
	for _, k := range list {
		out = append(out, toKeyJSON(k))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type keyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (a *API) createKey(c *gin.Context) {
	t, db, p, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req keyRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := mayGrant(ctx, a.cfg.Perms, db, t, p, req.Role); err != nil {
		httpx.Fail(c, err)
		return
	}
	var key string
	var k APIKey
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		key, k, err = a.cfg.APIKeys.CreateAPIKey(ctx, tx, t.ID, p, req.Name, req.Role)
		if err == nil && a.cfg.AssignRole != nil {
			err = a.cfg.AssignRole(ctx, tx, t.ID, authz.APIKeySubject(k.ID), req.Role)
		}
		return err
	})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := toKeyJSON(k)
	out.Key = key
	c.JSON(http.StatusCreated, out)
}

func (a *API) revokeKey(c *gin.Context) {
	_, db, p, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	k, err := a.cfg.APIKeys.RevokeAPIKey(c.Request.Context(), db, p, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toKeyJSON(k))
}

type allowListJSON struct {
	Entries   []AllowListEntry `json:"entries"`
	UpdatedAt *time.Time       `json:"updated_at"`
}

type allowListRequest struct {
	Entries        []AllowListEntry `json:"entries"`
	ConfirmLockout bool             `json:"confirm_lockout"`
}

func (a *API) getAllowList(c *gin.Context) {
	_, db, _, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	l, err := a.cfg.AllowList.Get(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAllowListJSON(l))
}

func toAllowListJSON(l AllowList) allowListJSON {
	out := allowListJSON{Entries: l.Entries}
	if out.Entries == nil {
		out.Entries = []AllowListEntry{}
	}
	if !l.UpdatedAt.IsZero() {
		out.UpdatedAt = &l.UpdatedAt
	}
	return out
}

func (a *API) putAllowList(c *gin.Context) {
	_, db, p, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req allowListRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	l, err := a.cfg.AllowList.Save(c.Request.Context(), db, p, req.Entries, c.ClientIP(), req.ConfirmLockout)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAllowListJSON(l))
}

type auditJSON struct {
	Seq        int64             `json:"seq"`
	At         time.Time         `json:"at"`
	ActorKind  string            `json:"actor_kind"`
	ActorID    string            `json:"actor_id"`
	ActorName  string            `json:"actor_name"`
	ActorRole  string            `json:"actor_role"`
	Action     string            `json:"action"`
	ObjectType string            `json:"object_type"`
	ObjectID   string            `json:"object_id"`
	Changes    []auditlog.Change `json:"changes"`
	Result     string            `json:"result"`
	SourceIP   string            `json:"source_ip"`
	UserAgent  string            `json:"user_agent"`
	RequestID  string            `json:"request_id"`
	Hash       string            `json:"hash"`
}

func (a *API) audit(c *gin.Context) {
	t, db, _, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	f, _ := auditFilter(c, loc)
	f.Limit = 100
	if n, err := strconv.Atoi(c.Query("limit")); err == nil && n > 0 && n <= 1000 {
		f.Limit = n
	}
	entries, err := auditlog.Search(c.Request.Context(), db, f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		ch := e.Changes
		if ch == nil {
			ch = []auditlog.Change{}
		}
		out = append(out, auditJSON{Seq: e.Seq, At: e.At, ActorKind: string(e.Actor.Kind), ActorID: e.Actor.ID,
			ActorName: e.Actor.Name, ActorRole: e.Actor.Role, Action: e.Action, ObjectType: e.ObjectType,
			ObjectID: e.ObjectID, Changes: ch, Result: string(e.Result), SourceIP: e.SourceIP,
			UserAgent: e.UserAgent, RequestID: e.RequestID, Hash: e.Hash})
	}
	resp := gin.H{"items": out}
	if len(entries) == f.Limit {
		resp["next_before"] = entries[len(entries)-1].Seq
	}
	c.JSON(http.StatusOK, resp)
}
