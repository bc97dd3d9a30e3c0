CREATE TABLE notice_tenants (
    notice_id   TEXT NOT NULL REFERENCES notices (id),
    tenant_id   TEXT NOT NULL,
    tenant_slug TEXT NOT NULL,
    PRIMARY KEY (notice_id, tenant_id)
);
--bun:split
CREATE INDEX notice_tenants_tenant ON notice_tenants (tenant_id)
