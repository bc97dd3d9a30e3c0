package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/integrations"
	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/idempotency"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
	"github.com/yoyaku-oss/yoyaku/web"
)

// app is the wired program: databases, services and the HTTP handler.
type app struct {
	cfg     config.Config
	log     *slog.Logger
	control *bun.DB
	reg     *tenantdb.Registry
	tenants *tenants.Service
	catalog *i18n.Catalog
	views   *view.Renderer
	authz   *authz.Authorizer
	staff   *identity.Service
	apiKeys *identity.APIKeyService
	allow   *identity.AllowListService
	mail    *notify.Service
	subs    *outbox.Subscriptions
	outbox  *outbox.Dispatcher // set by serve; nil in CLI commands
	notices *notices.Service
	menus   *menus.Service
	slots   *timeslots.Service // the business calendar, sessions and availability
	members *members.Service   // member accounts of the booking sites
	// memberReservations renders the my page's reservations section (set
	// by the reservations wiring; nil shows a placeholder).
	memberReservations members.ReservationsHook
	// memberSite is the members' booking-site side (its OptionalSession
	// lets other modules serve signed-in members).
	memberSite *members.HTTP
	// reservations is the booking engine (made by registerReservations
	// unless a test set its own).
	reservations *reservations.Service
	// plugins is the plugin host (discovered at open, run by serve).
	plugins *integrations.Host
}

// migrationMode says what to do with a control database behind the binary.
type migrationMode int

const (
	refuseBehind migrationMode = iota // serve: refuse unless empty (a fresh install is set up)
	migrateNow                        // migrate: apply what is pending
)

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	return logx.New(w, cfg.LogFormat == "json", lvl)
}

// openApp opens the control database (creating it when missing), checks its
// migrations and wires the modules.
func openApp(ctx context.Context, cfg config.Config, log *slog.Logger, mode migrationMode) (*app, error) {
	if err := cfg.PrepareDataDir(); err != nil {
		return nil, err
	}
	loc := cfg.Location()
	control, err := dbx.OpenControl(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("control database: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = control.Close()
		}
	}()
	ctlMigrations := migrations.Control(string(loc.Engine))
	pending, err := dbx.Pending(ctx, control, ctlMigrations)
	if err != nil {
		return nil, fmt.Errorf("control database: %w", err)
	}
	all, err := dbx.MigrationNames(ctlMigrations)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		if mode == refuseBehind && len(pending) < len(all) {
			return nil, fmt.Errorf("control database is behind this binary (%d migrations pending: %s); run `yoyaku migrate`",
				len(pending), strings.Join(pending, ", "))
		}
		applied, err := dbx.Migrate(ctx, control, ctlMigrations)
		if err != nil {
			return nil, fmt.Errorf("control database: %w", err)
		}
		log.InfoContext(ctx, "control database migrated", "applied", len(applied))
	}
	servers := map[string]string{}
	if loc.Engine == dbx.MySQL {
		servers[tenantdb.DefaultServer] = cfg.MySQLDSN
	}
	reg, err := tenantdb.New(tenantdb.Config{
		Engine:     loc.Engine,
		DataDir:    cfg.DataDir,
		Servers:    servers,
		Migrations: migrations.Tenant(string(loc.Engine)),
		Logger:     log,
	})
	if err != nil {
		return nil, err
	}
	catalog, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		_ = reg.Close()
		return nil, err
	}
	views, err := view.New(web.FS, catalog)
	if err != nil {
		_ = reg.Close()
		return nil, err
	}
	key, err := cfg.MasterKey(os.Getenv)
	if err != nil {
		_ = reg.Close()
		return nil, err
	}
	az := authz.New(authz.Config{})
	staff, err := identity.NewService(identity.Config{Logger: log, SecretKey: key})
	if err != nil {
		_ = reg.Close()
		return nil, err
	}
	a := &app{
		cfg:     cfg,
		log:     log,
		control: control,
		reg:     reg,
		catalog: catalog,
		views:   views,
		authz:   az,
		staff:   staff,
		allow:   identity.NewAllowListService(identity.AllowListConfig{Logger: log}),
	}
	// A key's role is checked by the authorization policy when it is
	// assigned, in the key's own transaction (an unknown role: 404, no key).
	a.apiKeys = identity.NewAPIKeyService(identity.APIKeyConfig{Logger: log})
	smtp, err := notify.ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		_ = reg.Close()
		return nil, fmt.Errorf("YOYAKU_SMTP_URL: %w", err)
	}
	// Reservation mails link to the booking site and read the reservation
	// when they go out (a reminder of a cancelled one is dropped).
	if a.mail, err = notify.NewService(notify.Config{SMTP: smtp, From: cfg.MailFrom, Logger: log, SiteURL: cfg.PublicURL(),
		Reservations: a.reservationState}); err != nil {
		_ = reg.Close()
		return nil, fmt.Errorf("mail: %w", err)
	}
	a.subs = outbox.NewSubscriptions()
	for _, et := range notify.EventTypes() {
		a.subs.Subscribe("mail", et.Type, a.deliverMail)
	}
	// A waitlist offer's hold ends when its timer event comes due.
	a.subs.Subscribe("waitlist", reservations.EventWaitlistHoldDue, a.waitlistHoldDue)
	// A prepaid booking's seat is released when its payment time is up.
	a.subs.Subscribe("payments", reservations.EventPaymentDue, a.paymentDue)
	// A cancelled prepaid reservation's refund, retried until made.
	a.subs.Subscribe("payments", reservations.EventRefundDue, a.refundDue)
	a.tenants = tenants.NewService(tenants.Config{Control: control, Registry: reg, Location: loc, Logger: log,
		Provision: a.provisionOwner})
	// Maintenance and end-of-service notices are mailed to the contacts of
	// the tenants they address, through each tenant's outbox.
	a.notices = notices.NewService(notices.Config{Control: control, Tenants: a.tenants, Logger: log,
		OnPublished: a.announceNotice})
	a.wireCatalog()
	a.wireMembers()
	if err := a.wirePlugins(key); err != nil {
		_ = reg.Close()
		return nil, err
	}
	ok = true
	return a, nil
}

// provisionOwner makes a new tenant's owner account (when an owner e-mail
// was given) and its owner role, inside the tenant's creation.
func (a *app) provisionOwner(ctx context.Context, t tenants.Tenant, db bun.IDB, p tenants.CreateParams) (tenants.Provisioned, error) {
	if p.OwnerEmail == "" {
		return tenants.Provisioned{}, nil
	}
	st, token, err := a.staff.CreateOwner(ctx, db, p.OwnerEmail, "")
	if err != nil {
		return tenants.Provisioned{}, err
	}
	if err := a.authz.Assign(ctx, db, t.ID, authz.StaffSubject(st.ID), authz.RoleOwner); err != nil {
		return tenants.Provisioned{}, err
	}
	return tenants.Provisioned{OwnerSetupURL: a.cfg.PublicURL() + "/t/" + t.Slug + "/admin/setup/" + token}, nil
}

// assignKeyRole records an API key's role in the authorization policy.
func (a *app) assignKeyRole(ctx context.Context, db bun.IDB, t tenants.Tenant, k identity.APIKey) error {
	return a.authz.Assign(ctx, db, t.ID, authz.APIKeySubject(k.ID), k.Role)
}

// roleNames lists the roles of a tenant (built-in and custom).
func (a *app) roleNames(ctx context.Context, db bun.IDB, tenantID string) ([]string, error) {
	rs, err := a.authz.Roles(ctx, db, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out, nil
}

// inTenant runs fn with the database of the tenant slug, for CLI commands:
// a missing tenant or one whose database is gone is a clear error.
func (a *app) inTenant(ctx context.Context, slug string, fn func(t tenants.Tenant, db bun.IDB) error) error {
	t, err := a.tenants.Get(ctx, slug)
	if err != nil {
		return describe(err)
	}
	if t.Status == tenants.StatusTerminated {
		return fmt.Errorf("tenant %s is terminated: its database was deleted", slug)
	}
	h, err := a.reg.Acquire(ctx, t.DB)
	if err != nil {
		return describe(err)
	}
	defer h.Release()
	db, err := h.DB(ctx)
	if err != nil {
		return describe(err)
	}
	return fn(t, db)
}

// deliverMail is the outbox consumer that sends an event's mail.
func (a *app) deliverMail(ctx context.Context, db bun.IDB, t outbox.Tenant, e outbox.Event) error {
	tn, err := a.tenants.GetByID(ctx, t.ID)
	if err != nil {
		return err
	}
	err = a.mail.Deliver(ctx, db, notify.TenantInfoOf(tn), e.ID, e.Type, e.Payload)
	if notify.Permanent(err) {
		return outbox.Permanent(err)
	}
	return err
}

// newDispatcher builds the outbox dispatcher serve runs.
func (a *app) newDispatcher(prom prometheus.Registerer) (*outbox.Dispatcher, error) {
	toOutbox := func(t tenants.Tenant) outbox.Tenant {
		return outbox.Tenant{ID: t.ID, Slug: t.Slug, Placement: t.DB}
	}
	return outbox.NewDispatcher(outbox.DispatcherConfig{
		Registry: a.reg, Control: a.control, Subs: a.subs, Logger: a.log, Registerer: prom,
		Tenants: func(ctx context.Context, ids []string) ([]outbox.Tenant, error) {
			var out []outbox.Tenant
			for _, id := range ids {
				t, err := a.tenants.GetByID(ctx, id)
				if errors.Is(err, tenants.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				if t.Status != tenants.StatusTerminated {
					out = append(out, toOutbox(t))
				}
			}
			return out, nil
		},
		AllTenants: func(ctx context.Context) ([]outbox.Tenant, error) {
			var out []outbox.Tenant
			after := ""
			for {
				page, err := a.tenants.List(ctx, tenants.ListParams{After: after, Limit: 500})
				if err != nil {
					return nil, err
				}
				for _, t := range page {
					out = append(out, toOutbox(t))
				}
				if len(page) < 500 {
					return out, nil
				}
				after = page[len(page)-1].Slug
			}
		},
	})
}

// notifyOutbox tells the dispatcher, after a commit, that events are due.
// A command without a dispatcher (the CLI) records the due time in the
// control database, where every serve process's dispatcher looks.
func (a *app) notifyOutbox(ctx context.Context, tenantID string, evs []outbox.Event) {
	if len(evs) == 0 {
		return
	}
	if a.outbox == nil {
		if err := outbox.RecordDue(ctx, a.control, tenantID, outbox.Earliest(evs)); err != nil {
			a.log.WarnContext(ctx, "outbox due time not recorded (the sweep will catch it)", "tenant_id", tenantID, "err", err)
		}
		return
	}
	if err := a.outbox.Notify(ctx, tenantID, evs); err != nil {
		a.log.WarnContext(ctx, "outbox notify (the sweep will catch it)", "tenant_id", tenantID, "err", err)
	}
}

// Close closes the databases.
func (a *app) Close() error {
	return errors.Join(a.reg.Close(), a.control.Close())
}

// handler builds the HTTP surface.
func (a *app) handler(operatorToken string) (*gin.Engine, error) {
	var err error
	prom := prometheus.NewRegistry()
	prom.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(a.control.DB, "control"),
		registryCollector{a.reg},
	)
	if a.outbox, err = a.newDispatcher(prom); err != nil {
		return nil, err
	}
	r, err := httpx.New(httpx.Options{
		Logger:       a.log,
		Catalog:      a.catalog,
		Registerer:   prom,
		MaxBodyBytes: a.cfg.MaxBodyBytes,
		// Behind a load balancer the client's address (rate limits,
		// allow-lists) comes from X-Forwarded-For set by these alone.
		TrustedProxies: a.cfg.TrustedProxyList(),
	})
	if err != nil {
		return nil, err
	}
	r.GET("/", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"service": "yoyaku", "version": versionString()})
	})
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", a.ready)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(prom, promhttp.HandlerOpts{})))
	static, err := fs.Sub(web.FS, "static")
	if err != nil {
		return nil, err
	}
	r.StaticFS("/static", http.FS(static))
	r.GET("/api/v1/openapi.json", func(c *gin.Context) { c.FileFromFS("openapi.json", http.FS(web.FS)) })

	th := tenants.NewHTTP(a.tenants, a.views)
	// Operator creations and changes accept Idempotency-Key; answers are
	// kept in the control database.
	platform := r.Group("/api/v1/platform", httpx.RequireToken(operatorToken), idempotency.Middleware(idempotency.Config{
		DB:    func(*gin.Context) (bun.IDB, error) { return a.control, nil },
		Scope: func(*gin.Context) string { return "operator" },
	}))
	th.RegisterOperator(platform)
	// The public endpoints are rate limited before their tenant is resolved,
	// so a flood is refused without touching a database.
	limits, err := a.publicLimits(prom)
	if err != nil {
		return nil, err
	}
	public := r.Group("/api/v1/public/:tenant", limits.API(), th.APITenant())
	th.RegisterPublic(public)
	// The booking site (its home is the menu list) is registered with the
	// booking engine below (registerBookingSite).
	site := r.Group("/t/:tenant", limits.Site(a.views), th.SiteTenant())

	ccfg := identity.ConsoleConfig{
		Staff: a.staff, APIKeys: a.apiKeys, AllowList: a.allow, Perms: a.authz, Views: a.views,
		AssignRole: a.authz.Assign, Roles: a.roleNames,
		Events: a.subs, Notify: a.notifyOutbox, PublicURL: a.cfg.BaseURL,
		Unread: a.notices.UnreadCount, Policy: a.authz,
		Nav: []identity.NavEntry{{Area: authz.AreaMail, Path: "/mail", Label: "notify.nav"}},
	}
	ccfg.Nav = append(ccfg.Nav, outboxNav)
	ccfg.Nav = append(ccfg.Nav, calendarNav)
	ccfg.Nav = append(ccfg.Nav, timetableNav)
	ccfg.Nav = append(ccfg.Nav, menus.Nav()...)
	ccfg.Nav = append(ccfg.Nav, members.Nav()...)
	ccfg.Nav = append(ccfg.Nav, reservations.Nav()...)
	ccfg.Nav = append(ccfg.Nav, integrations.Nav())
	console := identity.NewConsole(ccfg)
	admin := r.Group("/t/:tenant/admin", th.SiteTenant(), a.allow.RequireAllowedIP(console.FailPage))
	console.Register(admin)

	nh := notices.NewHTTP(notices.HTTPConfig{Service: a.notices, Views: a.views,
		Console: notices.ConsoleShell{Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage}})
	nh.RegisterOperator(platform)
	nh.RegisterStatus(r)
	nh.RegisterConsole(admin.Group("", console.RequireSession()))
	notify.NewConsole(notify.ConsoleConfig{Service: a.mail, Perms: a.authz, Shell: notify.ConsoleShell{
		Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need,
	}}).Register(admin.Group("", console.RequireSession()))
	if err := a.registerOutbox(platform, admin.Group("", console.RequireSession()), console); err != nil {
		return nil, err
	}

	// The tenant API: the API key names its tenant; creations accept
	// Idempotency-Key, kept in the tenant's own database per key.
	tenantAPI := r.Group("/api/v1", identity.APIKeyAuth(identity.APIKeyAuthConfig{
		Tenant: a.tenants.ResolveByID, WithTenant: tenants.WithTenant, Registry: a.reg,
		Keys: a.apiKeys, AllowList: a.allow, Option: "api",
	}), idempotency.Middleware(idempotency.Config{
		DB: func(c *gin.Context) (bun.IDB, error) { return tenantdb.From(c.Request.Context()) },
		Scope: func(c *gin.Context) string {
			p, _ := identity.PrincipalFrom(c.Request.Context())
			return p.Subject()
		},
	}))
	idAPI := identity.NewAPI(ccfg, a.cfg.PublicURL())
	idAPI.Register(tenantAPI)

	// The catalog: tenant API, public menus and console pages.
	mh := menus.NewHTTP(menus.HTTPConfig{Service: a.menus, Views: a.views, APINeed: idAPI.Need, Perms: a.authz,
		Console: menus.ConsoleShell{Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need}})
	mh.RegisterAPI(tenantAPI)
	mh.RegisterPublic(public)
	mh.RegisterConsole(admin.Group("", console.RequireSession()))
	// The business calendar: tenant API and console page.
	a.registerCalendar(tenantAPI, public, admin.Group("", console.RequireSession()), identity.NewAPI(ccfg, a.cfg.PublicURL()).Need, console)
	// Members: tenant API, booking-site pages and console pages.
	a.registerMembers(tenantAPI, r.Group("/t/:tenant", th.SiteTenant()), admin.Group("", console.RequireSession()), idAPI.Need, console)
	a.registerReservations(tenantAPI, public, idAPI.Need)
	// Payment providers' webhooks: no API key, the plugin verifies them.
	a.registerPaymentWebhooks(r.Group("/api/v1/webhooks/plugins/:plugin_id/:tenant", th.APITenant()))
	a.registerMyPage(site)
	// CSV exports and the member import: tenant API and console downloads.
	a.registerExports(tenantAPI, admin.Group("", console.RequireSession()), idAPI.Need, console)
	a.registerBookingSite(site)
	a.registerReservationsConsole(admin.Group("", console.RequireSession()), console)
	// The guest's cancel page (the link of the reservation mails).
	a.registerGuestPages(site)
	// Plugins: the operator's list, the tenant API and console page of
	// their settings, and their metrics.
	if err := a.registerPlugins(prom, platform, tenantAPI, admin.Group("", console.RequireSession()), idAPI.Need, console); err != nil {
		return nil, err
	}
	return r, nil
}

var errNotReady = apperr.New(apperr.KindUnavailable, "not_ready")

func (a *app) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := a.control.PingContext(ctx); err != nil {
		httpx.Fail(c, errNotReady.WithCause(fmt.Errorf("control database: %w", err)))
		return
	}
	if err := a.reg.Ping(ctx); err != nil {
		httpx.Fail(c, errNotReady.WithCause(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// registryCollector exports the tenant registry's numbers.
type registryCollector struct{ reg *tenantdb.Registry }

var (
	descOpen   = prometheus.NewDesc("yoyaku_tenant_db_open", "Tenant databases open now (SQLite files).", nil, nil)
	descInUse  = prometheus.NewDesc("yoyaku_tenant_db_in_use", "Tenant database handles held by requests now.", nil, nil)
	descPool   = prometheus.NewDesc("yoyaku_tenant_pool_connections", "Tenant server pool connections by state.", []string{"server", "state"}, nil)
	descWaits  = prometheus.NewDesc("yoyaku_tenant_pool_wait_total", "Times a request waited for a tenant server connection.", []string{"server"}, nil)
	descWaitSe = prometheus.NewDesc("yoyaku_tenant_pool_wait_seconds_total", "Time requests waited for a tenant server connection.", []string{"server"}, nil)
)

func (rc registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOpen, descInUse, descPool, descWaits, descWaitSe} {
		ch <- d
	}
}

func (rc registryCollector) Collect(ch chan<- prometheus.Metric) {
	s := rc.reg.Stats()
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.OpenTenants))
	ch <- prometheus.MustNewConstMetric(descInUse, prometheus.GaugeValue, float64(s.InUse))
	for name, p := range s.Pools {
		ch <- prometheus.MustNewConstMetric(descPool, prometheus.GaugeValue, float64(p.InUse), name, "in_use")
		ch <- prometheus.MustNewConstMetric(descPool, prometheus.GaugeValue, float64(p.Idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(descPool, prometheus.GaugeValue, float64(p.Max), name, "max")
		ch <- prometheus.MustNewConstMetric(descWaits, prometheus.CounterValue, float64(p.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(descWaitSe, prometheus.CounterValue, p.WaitDuration.Seconds(), name)
	}
}
