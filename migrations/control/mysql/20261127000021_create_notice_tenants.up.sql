CREATE TABLE notice_tenants (
    notice_id   VARCHAR(36) NOT NULL,
    tenant_id   VARCHAR(36) NOT NULL,
    tenant_slug VARCHAR(30) NOT NULL,
    PRIMARY KEY (notice_id, tenant_id),
    KEY notice_tenants_tenant (tenant_id),
    CONSTRAINT notice_tenants_notice FOREIGN KEY (notice_id) REFERENCES notices (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
